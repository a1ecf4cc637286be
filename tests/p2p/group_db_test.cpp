// GroupDb: CRUD, tombstones, expiry, merge rule, export/import, concurrency (two connections and a
// forked writer), reopen.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "pd/p2p/group_db.hpp"

using namespace pd::p2p;
namespace fs = std::filesystem;

namespace {

class GroupDbTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        dir_ = fs::temp_directory_path() / ("pd_groupdb_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        path_ = (dir_ / "group.db").string();
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path dir_;
    std::string path_;
};

Guid guid(std::uint8_t seed)
{
    Guid g;
    for (std::size_t i = 0; i < 16; ++i) g.b[i] = static_cast<std::uint8_t>(seed * 7 + i);
    return g;
}

Record make(std::uint8_t id, std::uint8_t type, Ticks created)
{
    Record r;
    r.id = guid(id);
    r.type = guid(type);
    r.version = 1;
    r.creator = u"0.creator";
    r.attributes = u"";
    r.created = created;
    r.modified = created;
    r.expires = created + 1000;
    r.security = {id};
    r.data = {1, 2, id};
    return r;
}

bool same(const Record& a, const Record& b)
{
    return a.type == b.type && a.id == b.id && a.version == b.version && a.flags == b.flags &&
           a.creator == b.creator && a.modified_by == b.modified_by && a.attributes == b.attributes &&
           a.created == b.created && a.expires == b.expires && a.modified == b.modified &&
           a.security == b.security && a.data == b.data;
}

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace

TEST_F(GroupDbTest, CreateOpenDestroy)
{
    std::unique_ptr<GroupDb> db;
    EXPECT_EQ(GroupDb::open(path_, db), hr::database_not_present);
    ASSERT_EQ(GroupDb::create(path_, db), hr::ok);
    std::unique_ptr<GroupDb> db2;
    EXPECT_EQ(GroupDb::create(path_, db2), hr::already_exists);
    EXPECT_EQ(db2, nullptr);
    ASSERT_EQ(GroupDb::open(path_, db2), hr::ok);
    db.reset();
    db2.reset();
    EXPECT_EQ(GroupDb::destroy(path_), hr::ok);
    EXPECT_FALSE(fs::exists(path_));
    EXPECT_FALSE(fs::exists(path_ + "-wal"));
    EXPECT_FALSE(fs::exists(path_ + "-shm"));
    EXPECT_EQ(GroupDb::destroy(path_), hr::database_not_present);
    EXPECT_EQ(GroupDb::create("", db), hr::invalid_arg);
}

TEST_F(GroupDbTest, ForeignFilesAreRejected)
{
    { std::ofstream(path_) << "this is not a database, just some text that is long enough......"; }
    std::unique_ptr<GroupDb> db;
    EXPECT_EQ(GroupDb::open(path_, db), hr::invalid_database);
    EXPECT_EQ(GroupDb::create(path_, db), hr::already_exists);
    fs::remove(path_);
    { std::ofstream empty(path_); }  // empty file: SQLite sees an empty database without our schema
    EXPECT_EQ(GroupDb::open(path_, db), hr::invalid_database);
    EXPECT_EQ(db, nullptr);
}

TEST_F(GroupDbTest, MetaAndRecordCrud)
{
    std::unique_ptr<GroupDb> db;
    ASSERT_EQ(GroupDb::create(path_, db), hr::ok);
    Bytes v;
    EXPECT_EQ(db->get_meta("k", v), hr::not_found);
    ASSERT_EQ(db->put_meta("k", bytes("one")), hr::ok);
    ASSERT_EQ(db->put_meta("k", bytes("two")), hr::ok);
    ASSERT_EQ(db->get_meta("k", v), hr::ok);
    EXPECT_EQ(v, bytes("two"));
    ASSERT_EQ(db->put_meta("empty", {}), hr::ok);
    ASSERT_EQ(db->get_meta("empty", v), hr::ok);
    EXPECT_TRUE(v.empty());

    Record a = make(1, 10, 500), b = make(2, 11, 100), c = make(3, 10, 300);
    a.attributes = u"<attributes/>";
    a.modified_by = u"0.m";
    a.flags = kRecordFlagAutoRefresh;
    ASSERT_EQ(db->insert_record(a), hr::ok);
    ASSERT_EQ(db->insert_record(b), hr::ok);
    ASSERT_EQ(db->insert_record(c), hr::ok);
    EXPECT_EQ(db->insert_record(a), hr::already_exists);
    Record bad = make(4, 10, 1);
    bad.creator.clear();
    EXPECT_EQ(db->insert_record(bad), hr::invalid_record);

    Record got;
    ASSERT_EQ(db->get_record(a.id, got), hr::ok);
    EXPECT_TRUE(same(got, a));
    EXPECT_EQ(db->get_record(guid(99), got), hr::record_not_found);

    std::vector<Record> list;
    ASSERT_EQ(db->list_records(nullptr, false, list), hr::ok);
    ASSERT_EQ(list.size(), 3u);  // ordered by creation time
    EXPECT_EQ(list[0].id, b.id);
    EXPECT_EQ(list[1].id, c.id);
    EXPECT_EQ(list[2].id, a.id);
    Guid t10 = guid(10);
    ASSERT_EQ(db->list_records(&t10, false, list), hr::ok);
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].id, c.id);

    a.version = 2;
    a.data = {42};
    ASSERT_EQ(db->replace_record(a), hr::ok);
    ASSERT_EQ(db->get_record(a.id, got), hr::ok);
    EXPECT_TRUE(same(got, a));
    EXPECT_EQ(db->replace_record(make(50, 1, 1)), hr::record_not_found);
}

TEST_F(GroupDbTest, TombstonesAndExpiry)
{
    std::unique_ptr<GroupDb> db;
    ASSERT_EQ(GroupDb::create(path_, db), hr::ok);
    Record a = make(1, 10, 100), b = make(2, 10, 200);
    a.expires = 1000;
    b.expires = 2000;
    ASSERT_EQ(db->insert_record(a), hr::ok);
    ASSERT_EQ(db->insert_record(b), hr::ok);
    Record tomb = b;
    tomb.flags = kRecordFlagDeleted;
    tomb.data.clear();
    tomb.version = 2;
    ASSERT_EQ(db->replace_record(tomb), hr::ok);
    std::vector<Record> list;
    ASSERT_EQ(db->list_records(nullptr, false, list), hr::ok);
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].id, a.id);
    ASSERT_EQ(db->list_records(nullptr, true, list), hr::ok);
    EXPECT_EQ(list.size(), 2u);
    Record got;
    ASSERT_EQ(db->get_record(b.id, got), hr::ok);
    EXPECT_EQ(got.flags, kRecordFlagDeleted);

    std::vector<Record> purged;
    ASSERT_EQ(db->purge_expired(999, purged), hr::ok);
    EXPECT_TRUE(purged.empty());
    ASSERT_EQ(db->purge_expired(1000, purged), hr::ok);  // expires <= now
    ASSERT_EQ(purged.size(), 1u);
    EXPECT_EQ(purged[0].id, a.id);
    ASSERT_EQ(db->purge_expired(5000, purged), hr::ok);  // tombstones expire too
    ASSERT_EQ(purged.size(), 1u);
    EXPECT_EQ(purged[0].id, b.id);
    ASSERT_EQ(db->list_records(nullptr, true, list), hr::ok);
    EXPECT_TRUE(list.empty());
}

TEST_F(GroupDbTest, MergeKeepsTheWinner)
{
    std::unique_ptr<GroupDb> db;
    ASSERT_EQ(GroupDb::create(path_, db), hr::ok);
    Record r = make(1, 10, 100);
    bool changed = false;
    ASSERT_EQ(db->merge_record(r, changed), hr::ok);
    EXPECT_TRUE(changed);  // unknown id
    ASSERT_EQ(db->merge_record(r, changed), hr::ok);
    EXPECT_FALSE(changed);  // already present
    Record older = r;
    older.security = {0};  // same size, bytewise smaller
    ASSERT_EQ(db->merge_record(older, changed), hr::ok);
    EXPECT_FALSE(changed);
    Record newer = r;
    newer.version = 2;
    newer.modified_by = u"0.m";
    newer.data = {7};
    ASSERT_EQ(db->merge_record(newer, changed), hr::ok);
    EXPECT_TRUE(changed);
    ASSERT_EQ(db->merge_record(r, changed), hr::ok);  // the old version again loses
    EXPECT_FALSE(changed);
    Record got;
    ASSERT_EQ(db->get_record(r.id, got), hr::ok);
    EXPECT_TRUE(same(got, newer));
}

TEST_F(GroupDbTest, ReopenFromDisk)
{
    Record a = make(1, 10, 100);
    a.attributes = u"\xD800 unpaired \u00E9";
    {
        std::unique_ptr<GroupDb> db;
        ASSERT_EQ(GroupDb::create(path_, db), hr::ok);
        ASSERT_EQ(db->insert_record(a), hr::ok);
        ASSERT_EQ(db->put_meta("x", bytes("y")), hr::ok);
    }
    std::unique_ptr<GroupDb> db;
    ASSERT_EQ(GroupDb::open(path_, db), hr::ok);
    Record got;
    ASSERT_EQ(db->get_record(a.id, got), hr::ok);
    EXPECT_TRUE(same(got, a));
    Bytes v;
    ASSERT_EQ(db->get_meta("x", v), hr::ok);
    EXPECT_EQ(v, bytes("y"));
}

TEST_F(GroupDbTest, ExportImportRoundTrip)
{
    std::string other = (dir_ / "other.db").string(), file = (dir_ / "export.bin").string();
    std::unique_ptr<GroupDb> src, dst;
    ASSERT_EQ(GroupDb::create(path_, src), hr::ok);
    ASSERT_EQ(GroupDb::create(other, dst), hr::ok);
    ASSERT_EQ(src->put_meta(kMetaGroupPeerName, bytes("0.group")), hr::ok);
    ASSERT_EQ(dst->put_meta(kMetaGroupPeerName, bytes("0.group")), hr::ok);
    Record a = make(1, 10, 100), b = make(2, 11, 200), t = make(3, 10, 300);
    a.flags = kRecordFlagAutoRefresh;
    a.attributes = u"<attributes/>";
    t.flags = kRecordFlagDeleted;
    t.data.clear();
    for (const Record& r : {a, b, t}) ASSERT_EQ(src->insert_record(r), hr::ok);
    Record stale = b;  // dst holds an older b and a newer... nothing else
    stale.security = {0};
    ASSERT_EQ(dst->insert_record(stale), hr::ok);
    Record newer_a = a;
    newer_a.version = 5;
    ASSERT_EQ(dst->insert_record(newer_a), hr::ok);

    ASSERT_EQ(src->export_file(file), hr::ok);
    std::vector<Record> changed;
    ASSERT_EQ(dst->import_file(file, changed), hr::ok);
    ASSERT_EQ(changed.size(), 2u);  // b (winner over stale) and t (new); a loses to version 5
    std::vector<Record> list;
    ASSERT_EQ(dst->list_records(nullptr, true, list), hr::ok);
    ASSERT_EQ(list.size(), 3u);
    EXPECT_TRUE(same(list[0], newer_a));
    EXPECT_TRUE(same(list[1], b));
    EXPECT_TRUE(same(list[2], t));

    // Into an empty database every record, flags included, arrives unchanged.
    std::string third = (dir_ / "third.db").string();
    std::unique_ptr<GroupDb> db3;
    ASSERT_EQ(GroupDb::create(third, db3), hr::ok);
    ASSERT_EQ(db3->put_meta(kMetaGroupPeerName, bytes("0.group")), hr::ok);
    ASSERT_EQ(db3->import_file(file, changed), hr::ok);
    ASSERT_EQ(changed.size(), 3u);
    Record got;
    ASSERT_EQ(db3->get_record(a.id, got), hr::ok);
    EXPECT_TRUE(same(got, a));

    // Another group's file is refused.
    ASSERT_EQ(db3->put_meta(kMetaGroupPeerName, bytes("0.another")), hr::ok);
    EXPECT_EQ(db3->import_file(file, changed), hr::invalid_group);
    EXPECT_EQ(db3->import_file((dir_ / "missing").string(), changed), hr::file_not_found);
}

TEST_F(GroupDbTest, CorruptImportChangesNothing)
{
    std::string file = (dir_ / "export.bin").string();
    std::unique_ptr<GroupDb> db;
    ASSERT_EQ(GroupDb::create(path_, db), hr::ok);
    for (std::uint8_t i = 1; i <= 3; ++i) ASSERT_EQ(db->insert_record(make(i, 10, i)), hr::ok);
    ASSERT_EQ(db->export_file(file), hr::ok);
    std::string good_bytes;
    {
        std::ifstream f(file, std::ios::binary);
        good_bytes.assign(std::istreambuf_iterator<char>(f), {});
    }
    std::string other = (dir_ / "other.db").string();
    std::unique_ptr<GroupDb> dst;
    ASSERT_EQ(GroupDb::create(other, dst), hr::ok);
    auto try_import = [&](const std::string& content) {
        { std::ofstream(file, std::ios::binary | std::ios::trunc) << content; }
        std::vector<Record> changed = {make(9, 9, 9)};
        Hr h = dst->import_file(file, changed);
        if (failed(h)) {
            EXPECT_EQ(changed.size(), 1u);  // untouched on failure
        }
        return h;
    };
    // Every truncation fails (the last record is incomplete or the count is wrong).
    for (std::size_t n = 0; n < good_bytes.size(); n += 7) ASSERT_EQ(try_import(good_bytes.substr(0, n)), hr::invalid_database) << n;
    EXPECT_EQ(try_import(good_bytes + "x"), hr::invalid_database);
    std::string bad = good_bytes;
    bad[0] = 'X';
    EXPECT_EQ(try_import(bad), hr::invalid_database);  // magic
    bad = good_bytes;
    bad[11] = 2;
    EXPECT_EQ(try_import(bad), hr::invalid_database);  // version
    bad = good_bytes;
    bad[16] = '\x7F';
    EXPECT_EQ(try_import(bad), hr::invalid_database);  // absurd record count
    std::vector<Record> list;
    ASSERT_EQ(dst->list_records(nullptr, true, list), hr::ok);
    EXPECT_TRUE(list.empty());
    EXPECT_EQ(try_import(good_bytes), hr::ok);
    ASSERT_EQ(dst->list_records(nullptr, true, list), hr::ok);
    EXPECT_EQ(list.size(), 3u);
}

TEST_F(GroupDbTest, TwoConnectionsSeeEachOther)
{
    std::unique_ptr<GroupDb> w, r;
    ASSERT_EQ(GroupDb::create(path_, w), hr::ok);
    ASSERT_EQ(GroupDb::open(path_, r), hr::ok);
    std::uint64_t wv = w->data_version(), rv = r->data_version();
    ASSERT_EQ(w->insert_record(make(1, 10, 1)), hr::ok);
    EXPECT_NE(w->data_version(), wv);  // own commit
    EXPECT_NE(r->data_version(), rv);  // the other connection's commit
    rv = r->data_version();
    EXPECT_EQ(r->data_version(), rv);  // stable without commits
    Record got;
    ASSERT_EQ(r->get_record(guid(1), got), hr::ok);
    ASSERT_EQ(r->insert_record(make(2, 10, 2)), hr::ok);
    ASSERT_EQ(w->get_record(guid(2), got), hr::ok);
}

TEST_F(GroupDbTest, ForkedWriterWhileParentReads)
{
    std::unique_ptr<GroupDb> db;
    ASSERT_EQ(GroupDb::create(path_, db), hr::ok);
    std::uint64_t v0 = db->data_version();
    constexpr int kRecords = 200;
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // Child: its own connection (never reuse the parent's SQLite handle after fork).
        std::unique_ptr<GroupDb> child;
        if (failed(GroupDb::open(path_, child))) ::_exit(2);
        for (int i = 0; i < kRecords; ++i) {
            Record rec = make(static_cast<std::uint8_t>(i), 10, i);
            rec.id.b[15] = static_cast<std::uint8_t>(i >> 8);
            rec.id.b[14] = 0xEE;
            if (failed(child->insert_record(rec))) ::_exit(3);
        }
        child.reset();
        ::_exit(0);
    }
    // Parent reads concurrently: counts only grow, every list is consistent.
    std::size_t last = 0;
    for (int i = 0; i < 2000; ++i) {
        std::vector<Record> list;
        ASSERT_EQ(db->list_records(nullptr, false, list), hr::ok);
        ASSERT_GE(list.size(), last);
        last = list.size();
        if (last == kRecords) break;
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    std::vector<Record> list;
    ASSERT_EQ(db->list_records(nullptr, false, list), hr::ok);
    EXPECT_EQ(list.size(), static_cast<std::size_t>(kRecords));
    EXPECT_NE(db->data_version(), v0);
}
