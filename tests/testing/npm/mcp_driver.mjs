// Drives the fake Discourse through Discourse's own MCP server (@discourse/mcp, npm), as an AI agent
// would: the server runs over stdio, tethered to the fake with an admin key and writes allowed, and
// this script calls its tools with the MCP SDK's client.
//
//   node mcp_driver.mjs <base URL> <admin API key>
//
// Prints one JSON line per tool call: {"call", "ok", "detail"}; ok means the tool did not report an error.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [url, key] = process.argv.slice(2);
const server = new StdioClientTransport({
  command: process.execPath,
  args: [
    "node_modules/@discourse/mcp/dist/index.js",
    "--site",
    url,
    "--auth_pairs",
    JSON.stringify([{ site: url, api_key: key, api_username: "system" }]),
    "--allow_writes",
    "true",
    "--tools_mode",
    "discourse_api_only", // the built-in tools only (no plugin-defined remote tools)
    "--toolsets",
    "all",
    "--log_level",
    "error",
  ],
  stderr: "inherit",
});
const client = new Client({ name: "discourse-async-tests", version: "1" });
await client.connect(server);

async function tool(name, args = {}) {
  let result;
  try {
    result = await client.callTool({ name, arguments: args });
  } catch (error) {
    console.log(JSON.stringify({ call: name, ok: false, detail: String(error).slice(0, 300) }));
    return undefined;
  }
  const text = (result.content ?? []).map((c) => c.text ?? "").join("\n");
  console.log(JSON.stringify({ call: name, ok: !result.isError, detail: result.isError ? text.slice(0, 300) : "" }));
  if (result.isError) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const category = await tool("discourse_create_category", { name: "Agents", color: "0E76BD", description: "Where agents write." });
await tool("discourse_list_categories");
for (const name of ["alice", "bob"]) {
  await tool("discourse_create_user", {
    username: name,
    email: `${name}@example.com`,
    name: name[0].toUpperCase() + name.slice(1),
    password: "a long enough secret",
    active: true,
    approved: true,
  });
}
const topic = await tool("discourse_create_topic", {
  title: "A topic an agent wrote through MCP",
  raw: "The first post of the topic, written by an agent for @bob.",
  category_id: category?.id,
  tags: ["agents"],
});
const topicId = topic?.topic_id;
const reply = await tool("discourse_create_post", { topic_id: topicId, raw: "A reply from the agent, long enough." });
await tool("discourse_create_post", { topic_id: topicId, raw: "Bob answers the agent, long enough.", author_username: "bob" });
await tool("discourse_update_topic", { topic_id: topicId, title: "A topic an agent wrote and renamed" });
await tool("discourse_update_post", { post_id: reply?.id, raw: "A reply from the agent, edited.", edit_reason: "clarity" });
await tool("discourse_read_topic", { topic_id: topicId });
await tool("discourse_read_post", { post_id: reply?.id });
await tool("discourse_read_topic_posts", { topic_id: topicId, selection_mode: "earliest", limit: 5 });
await tool("discourse_get_post_replies", { post_id: topic?.id });
await tool("discourse_list_latest_posts");
await tool("discourse_get_topic_view_stats", { topic_id: topicId });
await tool("discourse_search", { query: "agent" });
await tool("discourse_search_posts", { query: "agent" });
await tool("discourse_filter_topics", { filter: "order:activity", per_page: 5 });
await tool("discourse_get_user", { username: "alice" });
await tool("discourse_update_user", { username: "alice", name: "Alice Agent", bio_raw: "Reads what agents write." });
await tool("discourse_list_user_posts", { username: "system" });
await tool("discourse_get_user_summary", { username: "system" });
await tool("discourse_list_user_actions", { username: "system" });
await tool("discourse_list_directory_items", { period: "all" });
await tool("discourse_list_users", { filter: "active" });
const pm = await tool("discourse_create_private_message", {
  title: "A private word from the agent",
  raw: "This message is for Alice only.",
  usernames: ["alice"],
});
const pmId = pm?.topic_id ?? pm?.id;
await tool("discourse_reply_private_message", { topic_id: pmId, raw: "A second private word, long enough." });
await tool("discourse_invite_to_private_message", { topic_id: pmId, username: "bob" });
await tool("discourse_list_private_messages", { username: "system" });
await tool("discourse_read_private_message", { topic_id: pmId });
const group = await tool("discourse_create_group", { name: "agents", full_name: "The agents", usernames: ["alice"] });
const groupId = group?.basic_group?.id ?? group?.id;
await tool("discourse_get_group", { name: "agents" });
await tool("discourse_update_group", { id: groupId, bio_raw: "Agents and the people who watch them." });
await tool("discourse_add_group_members_by_username", { id: groupId, usernames: ["bob"] });
await tool("discourse_list_group_members", { name: "agents" });
await tool("discourse_remove_group_members_by_username", { id: groupId, usernames: ["bob"] });
await tool("discourse_list_group_posts", { group_name: "agents" });
await tool("discourse_list_groups");
await tool("discourse_create_tag_group", {
  name: "Interesting tags",
  tags: [{ name: "agents" }],
  permissions: [{ group_id: 0, access: "full" }],
});
await tool("discourse_list_tag_groups");
await tool("discourse_search_tag_groups", { q: "int" });
await client.close();
