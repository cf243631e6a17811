// Drives the fake Discourse with discourse2 (npm), a typed client generated from Discourse's published
// document, the way a bot written against a real site would: a small forum built and read back.
//
//   node discourse2_driver.mjs <base URL> <admin API key> [full|connect]
//
// Prints one JSON line per call: {"call", "ok", "detail"}. A call is ok when it answered 200 and its
// body has every top-level key the published document's 200 schema requires (discourse2 validates
// what it sends against that document; what comes back it leaves to its caller, so we check here).
// "connect" runs the calls that need DiscourseConnect on (the fake started with a connect secret).
import { createHash } from "node:crypto";
import Discourse from "discourse2";
import spec from "./node_modules/discourse2/esm/openapi.js"; // the document discourse2 was built from

const [url, key, mode = "full"] = process.argv.slice(2);
const as = (username) => new Discourse(url, { "Api-Key": key, "Api-Username": username });
const admin = as("system");
const anon = new Discourse(url);

const required = {}; // operationId -> top-level keys its 200 answer must have
for (const item of Object.values(spec.paths)) {
  for (const op of Object.values(item)) {
    const schema = op?.responses?.["200"]?.content?.["application/json"]?.schema;
    if (op?.operationId) required[op.operationId] = schema?.type === "object" || schema?.properties ? schema.required ?? [] : [];
  }
}

function report(call, ok, detail) {
  console.log(JSON.stringify({ call, ok, detail }));
}

async function call(client, name, params = {}, options = undefined) {
  let value;
  try {
    value = await client[name](params, options);
  } catch (error) {
    const status = error.status ? `HTTP ${error.status}: ${String(error.body ?? "").slice(0, 300)}` : String(error).slice(0, 300);
    report(name, false, status);
    return undefined;
  }
  // The document's required lists are an admin's view: anonymous viewers never get the can_* flags or
  // the review queue's counts from a real site, so those are not asked of an anonymous call.
  const viewerOnly = (k) => client === anon && (k.startsWith("can_") || k.startsWith("reviewable_"));
  const keys = value && typeof value === "object" && !Array.isArray(value) ? required[name] : [];
  const missing = keys.filter((k) => !(k in value) && !viewerOnly(k));
  report(name, missing.length === 0, missing.length ? `missing required keys: ${missing.join(", ")}` : "");
  return value;
}

const loose = { validateParams: false }; // for fields a current Discourse takes that the document leaves out

async function connect() {
  const made = await call(admin, "createUser", {
    name: "Heidi Connected",
    email: "heidi@example.com",
    password: "a long enough secret",
    username: "heidi",
    active: true,
    external_ids: { discourse_connect: "h-1" },
  });
  if (made) await call(admin, "getUserExternalId", { external_id: "h-1" });
}

async function full() {
  await call(anon, "getSite");
  await call(anon, "getSiteBasicInfo");
  const made = await call(admin, "createCategory", { name: "Announcements", color: "BF1E2E", text_color: "FFFFFF" });
  const categoryId = made?.category?.id;
  const child = await call(admin, "createCategory", { name: "Sub news", parent_category_id: categoryId });
  await call(admin, "updateCategory", { id: categoryId, name: "News", color: "3AB54A" });
  await call(anon, "getCategory", { id: categoryId });
  await call(anon, "listCategories", { include_subcategories: true });
  for (const name of ["alice", "bob", "carol"]) {
    await call(admin, "createUser", {
      name: name[0].toUpperCase() + name.slice(1),
      email: `${name}@example.com`,
      password: "a long enough secret",
      username: name,
      active: true,
    });
  }
  const alice = as("alice");
  const bob = as("bob");
  const first = await call(
    alice,
    "createTopicPostPM",
    {
      title: "Welcome to the fake forum",
      raw: "The first post of the first topic, hello @bob.",
      category: categoryId,
      external_id: "ext-1",
      tags: ["welcome", "news"],
    },
    loose,
  );
  const topicId = first?.topic_id;
  const reply = await call(bob, "createTopicPostPM", {
    topic_id: topicId,
    raw: "A reply from Bob to the first post.",
    reply_to_post_number: 1,
  });
  await call(alice, "createTopicPostPM", {
    title: "Second topic in the sub category",
    raw: "Some text for the second topic here.",
    category: child?.category?.id,
  });
  await call(bob, "performPostAction", { id: first?.id, post_action_type_id: 2 });
  await call(anon, "getTopic", { id: String(topicId) });
  await call(admin, "getTopic", { id: String(topicId) });
  await call(anon, "getTopicByExternalId", { external_id: "ext-1" });
  await call(anon, "getPost", { id: String(first?.id) });
  await call(alice, "updatePost", {
    id: String(first?.id),
    post: { raw: "The first post of the first topic, edited by Alice.", edit_reason: "typo" },
  });
  await call(anon, "postReplies", { id: String(first?.id) });
  await call(admin, "lockPost", { id: String(reply?.id), locked: "true" });
  await call(anon, "listPosts");
  await call(admin, "listPosts", { before: String(reply?.id) });
  await call(anon, "listLatestTopics");
  await call(alice, "listLatestTopics", { order: "created", per_page: 2 });
  await call(anon, "listTopTopics", { period: "all" });
  await call(anon, "listCategoryTopics", { slug: "news", id: categoryId });
  await call(anon, "listTags");
  await call(anon, "getTag", { name: "welcome" });
  const tagGroup = await call(admin, "createTagGroup", { name: "Topics of interest", tag_names: ["welcome"] }, loose);
  const tagGroupId = tagGroup?.tag_group?.id;
  await call(anon, "listTagGroups");
  await call(anon, "getTagGroup", { id: String(tagGroupId) });
  await call(admin, "updateTagGroup", { id: String(tagGroupId), name: "Interesting topics" });
  await call(anon, "search", { q: "first post" });
  await call(alice, "search", { q: "reply", page: 1 });
  await call(alice, "setNotificationLevel", { id: String(topicId), notification_level: "3" });
  await call(bob, "bookmarkTopic", { id: String(topicId) });
  // As documented ({"topic": {...}}): Discourse answers 200 and changes nothing (discourse2 warns about it).
  await call(admin, "updateTopic", { id: String(topicId), topic: { title: "Welcome to our fake forum" } });
  await call(admin, "updateTopicStatus", { id: String(topicId), status: "pinned", enabled: "true" });
  await call(admin, "updateTopicTimestamp", { id: String(topicId), timestamp: "2024-01-02T03:04:05Z" });
  await call(admin, "createTopicTimer", { id: String(topicId), time: "24", status_type: "open" });
  const pm = await call(alice, "createTopicPostPM", {
    title: "A private hello",
    raw: "Hello Bob, this is private.",
    archetype: "private_message",
    target_recipients: "bob",
  });
  await call(bob, "listUserPrivateMessages", { username: "bob" });
  await call(alice, "getUserSentPrivateMessages", { username: "alice" });
  await call(alice, "inviteToTopic", { id: String(pm?.topic_id), user: "carol" });
  const group = await call(admin, "createGroup", {
    group: { name: "testers", full_name: "The testers", usernames: "alice,bob", owner_usernames: "alice" },
  });
  const groupId = group?.basic_group?.id;
  await call(alice, "inviteGroupToTopic", { id: String(pm?.topic_id), group: "testers" });
  await call(anon, "getGroup", { id: "testers" });
  await call(alice, "updateGroup", { id: groupId, group: { name: "testers", bio_raw: "We test." } });
  await call(alice, "addGroupMembers", { id: groupId, usernames: "carol" });
  await call(anon, "listGroupMembers", { id: "testers" });
  await call(alice, "removeGroupMembers", { id: groupId, usernames: "carol" });
  await call(anon, "listGroups");
  await call(alice, "getNotifications");
  await call(bob, "markNotificationsAsRead", {});
  await call(admin, "adminListBadges");
  const badge = await call(admin, "createBadge", { name: "Great tester", badge_type_id: 2 });
  const badgeId = badge?.badge?.id;
  await call(admin, "updateBadge", { id: badgeId, name: "Great tester", badge_type_id: 1 });
  await call(anon, "listUserBadges", { username: "alice" });
  await call(admin, "createInvite", { email: "dave@example.com", topic_id: topicId, group_names: "testers" });
  await call(admin, "createMultipleInvites", { email: ["eve@example.com", "frank@example.com"] }, loose);
  const grace = await call(admin, "createUser", {
    name: "Grace Hopper",
    email: "grace@example.com",
    password: "a long enough secret",
    username: "grace",
    active: true,
    external_ids: { github: "gh-7" },
  });
  const graceId = grace?.user_id;
  await call(anon, "getUser", { username: "alice" });
  await call(alice, "updateUser", { username: "alice", name: "Alice Liddell" });
  await call(admin, "getUserIdentiyProviderExternalId", { provider: "github", external_id: "gh-7" });
  const png = Buffer.from("89504e470d0a1a0a0000000d4948445200000002000000030802000000" + "00".repeat(64), "hex");
  const upload = await call(alice, "createUpload", {
    type: "avatar",
    synchronous: true,
    file: new File([png], "me.png", { type: "image/png" }),
  });
  await call(alice, "updateAvatar", { username: "alice", upload_id: upload?.id, type: "uploaded" });
  await call(alice, "updateEmail", { username: "alice", email: "alice@new.example.com" });
  await call(admin, "updateUsername", { username: "grace", new_username: "grace_h" });
  await call(anon, "listUsersPublic", { period: "all", order: "post_count" });
  await call(anon, "listUserActions", { offset: 0, username: "alice", filter: "4,5" });
  await call(alice, "getUserEmails", { username: "alice" });
  await call(alice, "refreshGravatar", { username: "alice" });
  await call(anon, "sendPasswordResetEmail", { login: "bob" });
  await call(admin, "adminListUsers", { flag: "active", show_emails: true });
  await call(admin, "adminGetUser", { id: graceId });
  await call(admin, "deactivateUser", { id: graceId });
  await call(admin, "activateUser", { id: graceId });
  await call(admin, "suspendUser", { id: graceId, suspend_until: "2099-01-01", reason: "spam" });
  await call(admin, "silenceUser", { id: graceId, silenced_till: "2099-01-01", reason: "spam" });
  await call(admin, "logOutUser", { id: graceId });
  await call(admin, "anonymizeUser", { id: graceId });
  await call(admin, "deleteUser", { id: graceId, delete_posts: true });
  await call(admin, "createBackup", { with_uploads: false });
  const backups = await call(admin, "getBackups");
  if (Array.isArray(backups) && backups.length) {
    await call(admin, "sendDownloadBackupEmail", { filename: backups[0].filename });
  }
  // Direct-to-S3 uploads (the fake runs with --s3): a presigned PUT, then a one-part multipart upload.
  const data = Buffer.from("hello direct upload ".repeat(10));
  const put = await call(alice, "generatePresignedPut", {
    type: "composer",
    file_name: "notes.txt",
    file_size: data.length,
    metadata: { "sha1-checksum": createHash("sha1").update(data).digest("hex") },
  });
  if (put) {
    const stored = await fetch(put.url, { method: "PUT", body: data, headers: put.signed_headers ?? {} });
    report("PUT presigned URL", stored.status === 200, `HTTP ${stored.status}`);
    await call(alice, "completeExternalUpload", { unique_identifier: put.unique_identifier });
  }
  const started = await call(alice, "createMultipartUpload", {
    upload_type: "composer",
    file_name: "small.bin",
    file_size: 3,
  });
  if (started) {
    const urls = await call(alice, "batchPresignMultipartParts", {
      part_numbers: [1],
      unique_identifier: started.unique_identifier,
    });
    const part = await fetch(urls?.presigned_urls?.["1"], { method: "PUT", body: Buffer.from("end") });
    report("PUT presigned part", part.status === 200, `HTTP ${part.status}`);
    await call(alice, "completeMultipart", {
      unique_identifier: started.unique_identifier,
      parts: [{ part_number: 1, etag: part.headers.get("etag") }],
    });
  }
  const other = await call(alice, "createMultipartUpload", { upload_type: "composer", file_name: "gone.bin", file_size: 10 });
  await call(alice, "abortMultipart", { external_upload_identifier: other?.external_upload_identifier });
  await call(admin, "deleteBadge", { id: badgeId });
  await call(admin, "deleteGroup", { id: groupId });
  await call(bob, "deletePost", { id: reply?.id });
  await call(admin, "removeTopic", { id: String(topicId) });
}

await (mode === "connect" ? connect() : full());
