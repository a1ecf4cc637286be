// SPDX-License-Identifier: MIT
//
// pd::cache::Store over SQLite (see store.hpp for the schema and the contracts).
#include "pd/cache/store.hpp"

#include "common/log.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

namespace pd::cache {
namespace {

constexpr int kSchemaVersion = 1;
constexpr std::size_t kReaders = 4;            // read connections (parallel readers)
constexpr std::int64_t kTouchInterval = 60;    // seconds between LRU updates of one segment
constexpr int kBusyTimeoutMs = 30000;          // another process holding the write lock

std::int64_t now_seconds()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class SqliteError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(sqlite3* db, const char* what)
{
    throw SqliteError(std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

void exec(sqlite3* db, const char* sql)
{
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string text = msg ? msg : sqlite3_errmsg(db);
        sqlite3_free(msg);
        throw SqliteError(std::string(sql).substr(0, 60) + ": " + text);
    }
}

// A prepared statement, reset (and its bindings cleared) when the guard leaves scope.
class Stmt {
public:
    Stmt() = default;
    Stmt(sqlite3* db, const char* sql) : db_(db)
    {
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK)
            fail(db, sql);
    }
    Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)) {}
    Stmt& operator=(Stmt&& o) noexcept
    {
        std::swap(db_, o.db_);
        std::swap(stmt_, o.stmt_);
        return *this;
    }
    ~Stmt() { sqlite3_finalize(stmt_); }

    sqlite3_stmt* get() const { return stmt_; }
    Stmt& blob(int i, Bytes b)
    {
        sqlite3_bind_blob(stmt_, i, b.data(), static_cast<int>(b.size()), SQLITE_STATIC);
        return *this;
    }
    Stmt& i64(int i, std::int64_t v)
    {
        sqlite3_bind_int64(stmt_, i, v);
        return *this;
    }
    // Steps once: true for a row, false when done; throws on error.
    bool step()
    {
        int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW)
            return true;
        if (rc == SQLITE_DONE)
            return false;
        fail(db_, sqlite3_sql(stmt_));
    }
    void reset()
    {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    std::int64_t col_i64(int i) const { return sqlite3_column_int64(stmt_, i); }
    Bytes col_blob(int i) const
    {
        auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, i));
        return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i))};
    }

private:
    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
};

struct ResetGuard {
    Stmt& s;
    ~ResetGuard() { s.reset(); }
};

bool same(Bytes a, Bytes b) { return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin()); }

sqlite3* open_db(const std::filesystem::path& file)
{
    sqlite3* db = nullptr;
    auto name = file.u8string();
    int rc = sqlite3_open_v2(reinterpret_cast<const char*>(name.c_str()), &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        throw SqliteError("cannot open " + std::string(reinterpret_cast<const char*>(name.c_str())) + ": " + msg);
    }
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    sqlite3_extended_result_codes(db, 1);
    // Memory-mapped reads: a cached block is copied once, from the mapping to the caller.
    exec(db, "PRAGMA mmap_size=1073741824");
    exec(db, "PRAGMA foreign_keys=ON");
    return db;
}

// One read connection with its prepared statements.
struct Reader {
    sqlite3* db = nullptr;
    Stmt find;      // rowid and hash of (segment, idx)
    Stmt version;   // PRAGMA data_version
    sqlite3_blob* blob = nullptr;

    explicit Reader(const std::filesystem::path& file) : db(open_db(file))
    {
        find = Stmt(db, "SELECT b.id, b.hash FROM blocks b JOIN segments s ON b.segment = s.id "
                        "WHERE s.hohodk = ?1 AND b.idx = ?2");
        version = Stmt(db, "PRAGMA data_version");
    }
    ~Reader()
    {
        if (blob)
            sqlite3_blob_close(blob);
        find = Stmt();
        version = Stmt();
        sqlite3_close(db);
    }

    // rowid of a block cached with the expected hash, or 0.
    std::int64_t lookup(const BlockKey& key)
    {
        ResetGuard g{find};
        find.blob(1, key.segment).i64(2, key.index);
        if (!find.step() || !same(find.col_blob(1), key.hash))
            return 0;
        return find.col_i64(0);
    }
};

} // namespace

struct Store::Impl {
    Config config;
    std::filesystem::path file;

    std::mutex write_mutex;   // guards writer and its statements
    sqlite3* writer = nullptr;
    Stmt seg_find, seg_insert, seg_add_bytes, seg_touch, block_find, block_insert, block_replace, tag_insert,
        total_get, total_add;

    std::mutex pool_mutex;
    std::vector<std::unique_ptr<Reader>> pool;

    std::mutex touch_mutex;
    std::map<std::vector<std::uint8_t>, std::int64_t> touched; // segment -> last touch written
    std::atomic<std::uint64_t> local_commits{0};
    // PRAGMA data_version is per connection: one dedicated connection answers version().
    std::mutex version_mutex;
    std::unique_ptr<Reader> version_reader;

    ~Impl()
    {
        pool.clear();
        version_reader.reset();
        for (Stmt* s : {&seg_find, &seg_insert, &seg_add_bytes, &seg_touch, &block_find, &block_insert, &block_replace,
                        &tag_insert, &total_get, &total_add})
            *s = Stmt();
        if (writer)
            sqlite3_close(writer);
    }

    void create_schema()
    {
        exec(writer, "PRAGMA journal_mode=WAL");
        exec(writer, "PRAGMA synchronous=NORMAL");
        exec(writer, "BEGIN IMMEDIATE");
        try {
            exec(writer,
                 "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                 "CREATE TABLE IF NOT EXISTS segments(id INTEGER PRIMARY KEY, hohodk BLOB NOT NULL UNIQUE,"
                 "  bytes INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL, last_used INTEGER NOT NULL);"
                 "CREATE INDEX IF NOT EXISTS segments_lru ON segments(last_used);"
                 "CREATE INDEX IF NOT EXISTS segments_age ON segments(created);"
                 "CREATE TABLE IF NOT EXISTS blocks(id INTEGER PRIMARY KEY,"
                 "  segment INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,"
                 "  idx INTEGER NOT NULL, hash BLOB NOT NULL, data BLOB NOT NULL, UNIQUE(segment, idx));"
                 "CREATE TABLE IF NOT EXISTS tags(tag BLOB NOT NULL,"
                 "  segment INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,"
                 "  PRIMARY KEY(tag, segment)) WITHOUT ROWID;"
                 "CREATE INDEX IF NOT EXISTS tags_segment ON tags(segment);"
                 "INSERT OR IGNORE INTO meta VALUES('bytes', 0);");
            Stmt v(writer, "SELECT value FROM meta WHERE key = 'schema'");
            if (v.step()) {
                if (v.col_i64(0) != kSchemaVersion)
                    throw SqliteError("cache schema version " + std::to_string(v.col_i64(0)) + " is not supported");
            } else {
                exec(writer, ("INSERT INTO meta VALUES('schema', " + std::to_string(kSchemaVersion) + ")").c_str());
            }
            exec(writer, "COMMIT");
        } catch (...) {
            sqlite3_exec(writer, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }

    void prepare()
    {
        seg_find = Stmt(writer, "SELECT id FROM segments WHERE hohodk = ?1");
        seg_insert = Stmt(writer, "INSERT INTO segments(hohodk, created, last_used) VALUES(?1, ?2, ?2)");
        seg_add_bytes = Stmt(writer, "UPDATE segments SET bytes = bytes + ?2, last_used = ?3 WHERE id = ?1");
        seg_touch = Stmt(writer, "UPDATE segments SET last_used = ?2 WHERE hohodk = ?1");
        block_find = Stmt(writer, "SELECT id, hash, length(data) FROM blocks WHERE segment = ?1 AND idx = ?2");
        block_insert = Stmt(writer, "INSERT INTO blocks(segment, idx, hash, data) VALUES(?1, ?2, ?3, ?4)");
        block_replace = Stmt(writer, "UPDATE blocks SET hash = ?2, data = ?3 WHERE id = ?1");
        tag_insert = Stmt(writer, "INSERT OR IGNORE INTO tags(tag, segment) VALUES(?1, ?2)");
        total_get = Stmt(writer, "SELECT value FROM meta WHERE key = 'bytes'");
        total_add = Stmt(writer, "UPDATE meta SET value = value + ?1 WHERE key = 'bytes'");
    }

    std::unique_ptr<Reader> take_reader()
    {
        {
            std::lock_guard lock(pool_mutex);
            if (!pool.empty()) {
                auto r = std::move(pool.back());
                pool.pop_back();
                return r;
            }
        }
        return std::make_unique<Reader>(file);
    }
    void give_reader(std::unique_ptr<Reader> r)
    {
        std::lock_guard lock(pool_mutex);
        if (pool.size() < kReaders)
            pool.push_back(std::move(r));
    }

    // Runs body(reader) inside one read transaction.
    template <typename F>
    auto with_reader(F&& body)
    {
        auto r = take_reader();
        exec(r->db, "BEGIN");
        struct End {
            Reader& r;
            ~End()
            {
                if (r.blob) {
                    sqlite3_blob_close(r.blob);
                    r.blob = nullptr;
                }
                sqlite3_exec(r.db, "COMMIT", nullptr, nullptr, nullptr);
            }
        };
        using Result = decltype(body(*r));
        if constexpr (std::is_void_v<Result>) {
            {
                End end{*r};
                body(*r);
            }
            give_reader(std::move(r));
        } else {
            Result result;
            {
                End end{*r};
                result = body(*r);
            }
            give_reader(std::move(r));
            return result;
        }
    }

    std::int64_t total_bytes()
    {
        ResetGuard g{total_get};
        return total_get.step() ? total_get.col_i64(0) : 0;
    }

    // Deletes segments chosen by `select` (a query returning segment ids and bytes, in eviction
    // order) until `enough(total)` holds. Writer lock held, inside a transaction.
    std::uint64_t evict(const char* select, const std::function<bool(std::int64_t)>& enough, std::int64_t arg)
    {
        std::uint64_t removed = 0;
        std::int64_t total = total_bytes();
        std::vector<std::pair<std::int64_t, std::int64_t>> victims;
        {
            Stmt q(writer, select);
            q.i64(1, arg);
            while (!enough(total) && q.step()) {
                victims.emplace_back(q.col_i64(0), q.col_i64(1));
                total -= q.col_i64(1);
            }
        }
        Stmt del(writer, "DELETE FROM segments WHERE id = ?1");
        std::int64_t freed = 0;
        for (auto [id, bytes] : victims) {
            ResetGuard g{del};
            del.i64(1, id);
            del.step();
            freed += bytes;
            ++removed;
        }
        if (freed) {
            ResetGuard g{total_add};
            total_add.i64(1, -freed);
            total_add.step();
        }
        return removed;
    }

    std::uint64_t enforce_limits_locked()
    {
        std::int64_t quota = static_cast<std::int64_t>(config.quota_bytes);
        std::uint64_t removed = 0;
        removed += evict("SELECT id, bytes FROM segments WHERE created < ?1 ORDER BY created",
                         [](std::int64_t) { return false; }, now_seconds() - config.max_age.count());
        if (total_bytes() > quota) {
            // Evict down to 90 % so that the next puts do not evict again at once.
            std::int64_t target = quota - quota / 10;
            removed += evict("SELECT id, bytes FROM segments WHERE ?1 = ?1 ORDER BY last_used, id",
                             [target](std::int64_t total) { return total <= target; }, 0);
        }
        return removed;
    }

    template <typename F>
    auto write_transaction(F&& body)
    {
        std::lock_guard lock(write_mutex);
        exec(writer, "BEGIN IMMEDIATE");
        try {
            auto result = body();
            exec(writer, "COMMIT");
            local_commits.fetch_add(1);
            return result;
        } catch (...) {
            sqlite3_exec(writer, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

std::shared_ptr<Store> Store::open(const Config& config, std::string* error)
{
    try {
        auto impl = std::make_unique<Impl>();
        impl->config = config;
        std::error_code ec;
        std::filesystem::create_directories(config.directory, ec);
        if (ec)
            throw std::runtime_error("cannot create " + config.directory.string() + ": " + ec.message());
        if (impl->config.quota_bytes == 0) {
            auto space = std::filesystem::space(config.directory, ec);
            impl->config.quota_bytes = ec ? (1ull << 30) : space.capacity / 20; // Windows default: 5 % of the disk
        }
        impl->file = config.directory / "index.db";
        impl->writer = open_db(impl->file);
        impl->create_schema();
        impl->prepare();
        {
            std::lock_guard lock(impl->write_mutex);
            exec(impl->writer, "BEGIN IMMEDIATE");
            impl->enforce_limits_locked();
            exec(impl->writer, "COMMIT");
        }
        PD_DEBUG("cache: opened {} (quota {} bytes, max age {} s)", impl->file.string(), impl->config.quota_bytes,
                 impl->config.max_age.count());
        return std::shared_ptr<Store>(new Store(std::move(impl)));
    } catch (const std::exception& e) {
        if (error)
            *error = e.what();
        PD_ERROR("cache: {}", e.what());
        return nullptr;
    }
}

const Config& Store::config() const { return impl_->config; }

std::vector<bool> Store::contains(std::span<const BlockKey> keys)
{
    try {
        return impl_->with_reader([&](Reader& r) {
            std::vector<bool> present(keys.size());
            for (std::size_t i = 0; i < keys.size(); ++i)
                present[i] = r.lookup(keys[i]) != 0;
            return present;
        });
    } catch (const std::exception& e) {
        PD_ERROR("cache: contains: {}", e.what());
        return std::vector<bool>(keys.size(), false);
    }
}

std::size_t Store::read(std::span<const ReadBlock> requests)
{
    try {
        return impl_->with_reader([&](Reader& r) -> std::size_t {
            std::size_t done = 0;
            for (const ReadBlock& req : requests) {
                std::int64_t rowid = r.lookup(req.key);
                if (!rowid)
                    break;
                int rc = r.blob ? sqlite3_blob_reopen(r.blob, rowid)
                                : sqlite3_blob_open(r.db, "main", "blocks", "data", rowid, 0, &r.blob);
                if (rc != SQLITE_OK)
                    break;
                auto size = static_cast<std::uint64_t>(sqlite3_blob_bytes(r.blob));
                if (req.offset + req.out.size() > size)
                    break;
                if (sqlite3_blob_read(r.blob, req.out.data(), static_cast<int>(req.out.size()),
                                      static_cast<int>(req.offset)) != SQLITE_OK)
                    break;
                ++done;
            }
            return done;
        });
    } catch (const std::exception& e) {
        PD_ERROR("cache: read: {}", e.what());
        return 0;
    }
}

bool Store::put(std::span<const PutBlock> blocks, Tag tag, std::string* error)
{
    if (blocks.empty())
        return true;
    try {
        auto& s = *impl_;
        s.write_transaction([&] {
            std::int64_t now = now_seconds();
            std::int64_t added = 0;
            Bytes last_segment;
            std::int64_t seg_id = 0;
            for (const PutBlock& b : blocks) {
                if (!seg_id || !same(last_segment, b.key.segment)) {
                    ResetGuard g1{s.seg_find};
                    s.seg_find.blob(1, b.key.segment);
                    if (s.seg_find.step()) {
                        seg_id = s.seg_find.col_i64(0);
                    } else {
                        ResetGuard g2{s.seg_insert};
                        s.seg_insert.blob(1, b.key.segment).i64(2, now);
                        s.seg_insert.step();
                        seg_id = sqlite3_last_insert_rowid(s.writer);
                    }
                    last_segment = b.key.segment;
                    ResetGuard g3{s.tag_insert};
                    s.tag_insert.blob(1, tag).i64(2, seg_id);
                    s.tag_insert.step();
                }
                std::int64_t delta = 0;
                {
                    ResetGuard g{s.block_find};
                    s.block_find.i64(1, seg_id).i64(2, b.key.index);
                    if (s.block_find.step()) {
                        if (same(s.block_find.col_blob(1), b.key.hash))
                            continue; // already cached
                        std::int64_t id = s.block_find.col_i64(0);
                        delta = static_cast<std::int64_t>(b.data.size()) - s.block_find.col_i64(2);
                        ResetGuard g2{s.block_replace};
                        s.block_replace.i64(1, id).blob(2, b.key.hash).blob(3, b.data);
                        s.block_replace.step();
                    } else {
                        delta = static_cast<std::int64_t>(b.data.size());
                        ResetGuard g2{s.block_insert};
                        s.block_insert.i64(1, seg_id).i64(2, b.key.index).blob(3, b.key.hash).blob(4, b.data);
                        s.block_insert.step();
                    }
                }
                ResetGuard g{s.seg_add_bytes};
                s.seg_add_bytes.i64(1, seg_id).i64(2, delta).i64(3, now);
                s.seg_add_bytes.step();
                added += delta;
            }
            if (added) {
                ResetGuard g{s.total_add};
                s.total_add.i64(1, added);
                s.total_add.step();
            }
            if (s.total_bytes() > static_cast<std::int64_t>(s.config.quota_bytes))
                s.enforce_limits_locked();
            return 0;
        });
        return true;
    } catch (const std::exception& e) {
        if (error)
            *error = e.what();
        PD_ERROR("cache: put: {}", e.what());
        return false;
    }
}

void Store::touch(Bytes segment)
{
    auto& s = *impl_;
    std::int64_t now = now_seconds();
    {
        std::lock_guard lock(s.touch_mutex);
        auto& last = s.touched[std::vector<std::uint8_t>(segment.begin(), segment.end())];
        if (now - last < kTouchInterval)
            return;
        last = now;
    }
    try {
        s.write_transaction([&] {
            ResetGuard g{s.seg_touch};
            s.seg_touch.blob(1, segment).i64(2, now);
            s.seg_touch.step();
            return 0;
        });
    } catch (const std::exception& e) {
        PD_WARN("cache: touch: {}", e.what());
    }
}

std::uint64_t Store::flush_tag(Tag tag)
{
    auto& s = *impl_;
    try {
        return s.write_transaction([&] {
            Stmt q(s.writer, "SELECT s.id, s.bytes FROM tags t JOIN segments s ON t.segment = s.id WHERE t.tag = ?1");
            q.blob(1, tag);
            std::vector<std::pair<std::int64_t, std::int64_t>> victims;
            while (q.step())
                victims.emplace_back(q.col_i64(0), q.col_i64(1));
            Stmt del(s.writer, "DELETE FROM segments WHERE id = ?1");
            std::int64_t freed = 0;
            for (auto [id, bytes] : victims) {
                ResetGuard g{del};
                del.i64(1, id);
                del.step();
                freed += bytes;
            }
            ResetGuard g{s.total_add};
            s.total_add.i64(1, -freed);
            s.total_add.step();
            return static_cast<std::uint64_t>(victims.size());
        });
    } catch (const std::exception& e) {
        PD_ERROR("cache: flush: {}", e.what());
        return 0;
    }
}

std::uint64_t Store::enforce_limits()
{
    try {
        return impl_->write_transaction([&] { return impl_->enforce_limits_locked(); });
    } catch (const std::exception& e) {
        PD_ERROR("cache: limits: {}", e.what());
        return 0;
    }
}

std::uint64_t Store::version()
{
    try {
        // data_version changes for commits of other connections (this process's writer included);
        // the local counter covers the writer's own commits seen from the same connection.
        std::uint64_t v;
        {
            std::lock_guard lock(impl_->version_mutex);
            if (!impl_->version_reader)
                impl_->version_reader = std::make_unique<Reader>(impl_->file);
            Reader& r = *impl_->version_reader;
            ResetGuard g{r.version};
            v = r.version.step() ? static_cast<std::uint64_t>(r.version.col_i64(0)) : 0;
        }
        return (v << 32) ^ impl_->local_commits.load();
    } catch (const std::exception&) {
        return impl_->local_commits.load();
    }
}

Stats Store::stats()
{
    Stats st;
    st.quota_bytes = impl_->config.quota_bytes;
    try {
        impl_->with_reader([&](Reader& r) {
            Stmt q(r.db, "SELECT (SELECT value FROM meta WHERE key = 'bytes'), (SELECT count(*) FROM segments),"
                         " (SELECT count(*) FROM blocks)");
            if (q.step()) {
                st.bytes = static_cast<std::uint64_t>(q.col_i64(0));
                st.segments = static_cast<std::uint64_t>(q.col_i64(1));
                st.blocks = static_cast<std::uint64_t>(q.col_i64(2));
            }
        });
    } catch (const std::exception& e) {
        PD_ERROR("cache: stats: {}", e.what());
    }
    return st;
}

} // namespace pd::cache
