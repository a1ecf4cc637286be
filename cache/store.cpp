// SPDX-License-Identifier: MIT
//
// pd::cache::Store: SQLite index + one data file per segment (see store.hpp for the layout and
// the contracts).
#include "pd/cache/store.hpp"

#include "file.h"

#include "common/log.h"

#include "common/sqlite.h"

#include "pd/pccrc/crypto.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <list>
#include <map>
#include <set>
#include <shared_mutex>
#include <unordered_map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>

namespace pd::cache {
namespace {

using namespace pd::sql;

constexpr int kSchemaVersion = 3;
constexpr std::size_t kOpenFiles = 256;      // data files kept open per store
constexpr std::size_t kReaders = 4;            // read connections (parallel readers)
constexpr std::int64_t kTouchInterval = 60;    // seconds between LRU updates of one segment
constexpr std::size_t kQuarantineKept = 3;     // copies of damaged index files kept
constexpr std::uint32_t kWholeSegment = ~0u;   // a "bad block" index meaning: the segment's file is gone

// A block (or, with kWholeSegment, a whole segment) found damaged: its stored bytes do not hash to
// its hash, lie past the end of its file, or its file is gone. `seen` is the data file's stamp
// when that was observed: the block is dropped only if the file still has that stamp when the
// drop runs under the write lock (a put may have repaired it meanwhile); without `seen` the drop
// is unconditional (the checks at open).
struct Damage {
    std::int64_t segment = 0;
    std::uint32_t block = 0;
    std::optional<File::Stamp> seen;
};

// The bytes of a block hash to the hash its key names ([MS-PCCRC] 4.1.2 for V1 blocks, 4.1.3 for
// V2 segments: in both cases H(stored bytes) == the listed hash, H given by key.algorithm).
bool bytes_match(const BlockKey& key, Bytes data)
{
    namespace pccrc = pd::pccrc;
    auto alg = static_cast<pccrc::HashAlgorithm>(key.algorithm);
    std::size_t size = pccrc::digest_size(alg);
    if (size == 0 || key.hash.size() != size)
        return false;
    return same(pccrc::hash(alg, data).span(), key.hash);
}

std::int64_t now_seconds()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// One read connection with its prepared statements.
struct Reader {
    sqlite3* db = nullptr;
    Stmt find;      // where (segment, idx) is stored, and its hash
    Stmt version;   // PRAGMA data_version

    explicit Reader(const std::filesystem::path& file) : db(open_db(file, false))
    {
        find = Stmt(db, "SELECT b.segment, b.pos, b.length, b.hash FROM blocks b JOIN segments s ON b.segment = s.id "
                        "WHERE s.hohodk = ?1 AND b.idx = ?2");
        version = Stmt(db, "PRAGMA data_version");
    }
    ~Reader()
    {
        find = Stmt();
        version = Stmt();
        sqlite3_close(db);
    }

    struct Location {
        std::int64_t segment = 0; // 0: not cached (with that hash)
        std::uint64_t pos = 0;
        std::uint64_t length = 0;
    };
    Location lookup(const BlockKey& key)
    {
        ResetGuard g{find};
        find.blob(1, key.segment).i64(2, key.index);
        if (!find.step() || !same(find.col_blob(3), key.hash))
            return {};
        return {find.col_i64(0), static_cast<std::uint64_t>(find.col_i64(1)), static_cast<std::uint64_t>(find.col_i64(2))};
    }
};

} // namespace

struct Store::Impl {
    Config config;
    std::filesystem::path file;

    // Guards the connections (writer, pool, version_reader) against recover(), which replaces
    // them: every use holds it shared, recover() exclusive.
    std::shared_mutex conn_mutex;

    // Blocks verified by this process, per segment, valid while the segment's data file keeps the
    // stamp they were verified under and remembered only once the file settled (Config::settle,
    // default 60 s: longer than the kernel keeps a page dirty - dirty_expire 30 s plus the
    // flusher's 5 s period - because writes through a shared mapping to an already-dirty page
    // change no timestamp; only after writeback does the next such write update mtime/ctime).
    // Per block: where its bytes were read from and which hash they matched, so that a row moved
    // in the index (another pos or length) or another hash asked for is not covered.
    struct CheckedBlock {
        bool valid = false;
        std::uint64_t pos = 0, length = 0;
        std::uint64_t hash_prefix = 0;
    };
    struct Checked {
        File::Stamp stamp;
        std::vector<CheckedBlock> blocks;
    };
    static std::uint64_t hash_prefix(Bytes hash)
    {
        std::uint64_t v = 0;
        std::memcpy(&v, hash.data(), std::min<std::size_t>(hash.size(), sizeof v));
        return v;
    }
    std::mutex checked_mutex;
    std::unordered_map<std::int64_t, Checked> checked;

    std::atomic<std::uint64_t> n_verified{0}, n_dropped{0}, n_repaired{0}, n_resets{0};

    std::mutex write_mutex;   // guards writer and its statements
    sqlite3* writer = nullptr;
    Stmt seg_info, seg_find, seg_insert, seg_add_bytes, seg_touch, seg_delete, block_find, block_insert, block_delete, block_move,
        block_count, tag_insert, total_get, total_add;

    // Open data files, least recently used first out.
    std::mutex files_mutex;
    std::list<std::pair<std::int64_t, std::shared_ptr<File>>> files;

    std::mutex pool_mutex;
    std::vector<std::unique_ptr<Reader>> pool;

    std::mutex touch_mutex;
    std::map<std::vector<std::uint8_t>, std::int64_t> touched; // segment -> last use recorded
    std::map<std::vector<std::uint8_t>, std::int64_t> pending_touches; // not yet in the index

    // Writes the recorded uses into segments.last_used (writer lock held, inside a transaction).
    // LRU order does not change what a read returns, so this never needs a commit of its own.
    void flush_touches()
    {
        std::map<std::vector<std::uint8_t>, std::int64_t> pending;
        {
            std::lock_guard lock(touch_mutex);
            pending.swap(pending_touches);
        }
        for (auto& [segment, when] : pending) {
            ResetGuard g{seg_touch};
            seg_touch.blob(1, segment).i64(2, when);
            seg_touch.step();
        }
    }
    // PRAGMA data_version is per connection: one dedicated connection answers version() when
    // the shared change counter is not available.
    std::mutex version_mutex;
    std::unique_ptr<Reader> version_reader;

    // Change counter shared by every process (SharedCounter), bumped after each commit; while it
    // does not change, where a block was found stays true, so reads skip the index (memo).
    // Only positive answers are remembered; a data file that turns out to be gone clears it.
    std::unique_ptr<SharedCounter> counter;
    std::mutex memo_mutex;
    std::uint64_t memo_version = ~0ull;
    std::unordered_map<std::string, Reader::Location> memo;

    static std::string memo_key(const BlockKey& k)
    {
        std::string key(reinterpret_cast<const char*>(k.segment.data()), k.segment.size());
        key.append(reinterpret_cast<const char*>(&k.index), sizeof k.index);
        key.append(reinterpret_cast<const char*>(k.hash.data()), k.hash.size());
        return key;
    }
    // Locations of the leading requests known to the memo; returns the counter value they hold for.
    std::uint64_t memo_lookup(std::span<const BlockKey> keys, std::vector<Reader::Location>& out)
    {
        if (!counter)
            return 0;
        std::uint64_t v = counter->load();
        std::lock_guard lock(memo_mutex);
        if (v != memo_version) {
            memo.clear();
            memo_version = v;
        }
        for (const BlockKey& k : keys) {
            auto it = memo.find(memo_key(k));
            if (it == memo.end())
                break;
            out.push_back(it->second);
        }
        return v;
    }
    void memo_store(std::uint64_t v, std::span<const BlockKey> keys, std::span<const Reader::Location> locs)
    {
        if (!counter)
            return;
        std::lock_guard lock(memo_mutex);
        if (v != memo_version)
            return;
        if (memo.size() > (1u << 20))
            memo.clear();
        for (std::size_t i = 0; i < locs.size(); ++i)
            memo.emplace(memo_key(keys[i]), locs[i]);
    }
    void memo_forget()
    {
        std::lock_guard lock(memo_mutex);
        memo.clear();
        memo_version = ~0ull;
    }

    ~Impl()
    {
        try {
            if (writer && !pending_touches.empty()) {
                exec(writer, "BEGIN IMMEDIATE");
                flush_touches();
                exec(writer, "COMMIT");
            }
        } catch (const std::exception& e) {
            PD_WARN("cache: recording segment use: {}", e.what());
        }
        close_connections();
    }

    void close_connections()
    {
        pool.clear();
        version_reader.reset();
        for (Stmt* s : {&seg_info, &seg_find, &seg_insert, &seg_add_bytes, &seg_touch, &seg_delete, &block_find, &block_insert,
                        &block_delete, &block_move, &block_count, &tag_insert, &total_get, &total_add})
            *s = Stmt();
        if (writer)
            sqlite3_close(writer);
        writer = nullptr;
    }

    void create_schema()
    {
        exec(writer, "PRAGMA journal_mode=WAL");
        exec(writer, "PRAGMA synchronous=NORMAL");
        exec(writer, "BEGIN IMMEDIATE");
        try {
            exec(writer,
                 "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                 "CREATE TABLE IF NOT EXISTS segments(id INTEGER PRIMARY KEY AUTOINCREMENT, hohodk BLOB NOT NULL UNIQUE,"
                 "  bytes INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL, last_used INTEGER NOT NULL,"
                 "  secret BLOB, algorithm INTEGER NOT NULL DEFAULT 0, block_count INTEGER NOT NULL DEFAULT 0);"
                 "CREATE INDEX IF NOT EXISTS segments_lru ON segments(last_used);"
                 "CREATE INDEX IF NOT EXISTS segments_age ON segments(created);"
                 "CREATE TABLE IF NOT EXISTS blocks("
                 "  segment INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,"
                 "  idx INTEGER NOT NULL, hash BLOB NOT NULL, pos INTEGER NOT NULL, length INTEGER NOT NULL,"
                 "  PRIMARY KEY(segment, idx)) WITHOUT ROWID;"
                 "CREATE TABLE IF NOT EXISTS tags(tag BLOB NOT NULL,"
                 "  segment INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,"
                 "  PRIMARY KEY(tag, segment)) WITHOUT ROWID;"
                 "CREATE INDEX IF NOT EXISTS tags_segment ON tags(segment);"
                 "INSERT OR IGNORE INTO meta VALUES('bytes', 0);");
            // Segment ids (and so data file names) of a new index start at a random point, so that
            // an index rebuilt after damage never reuses the ids of the one before: another process
            // may still hold files and verifications of the old generation under those ids.
            {
                std::random_device rd;
                std::int64_t start = static_cast<std::int64_t>(((std::uint64_t{rd()} << 32) | rd()) >> 24);
                Stmt seq(writer, "INSERT INTO sqlite_sequence(name, seq) SELECT 'segments', ?1 "
                                 "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'segments')");
                seq.i64(1, start);
                seq.step();
            }
            std::int64_t schema = 0;
            {
                Stmt v(writer, "SELECT value FROM meta WHERE key = 'schema'");
                if (v.step())
                    schema = v.col_i64(0);
            }
            if (schema == 0) {
                exec(writer, ("INSERT INTO meta VALUES('schema', " + std::to_string(kSchemaVersion) + ")").c_str());
            } else if (schema == 2) {
                // Schema 2 (issue 10) lacked what a peer needs to serve a segment (its secret Kp,
                // hash algorithm and block count): the columns are added; segments cached by the
                // older build stay readable locally and are served once data is added again.
                exec(writer, "ALTER TABLE segments ADD COLUMN secret BLOB;"
                             "ALTER TABLE segments ADD COLUMN algorithm INTEGER NOT NULL DEFAULT 0;"
                             "ALTER TABLE segments ADD COLUMN block_count INTEGER NOT NULL DEFAULT 0;"
                             "UPDATE meta SET value = 3 WHERE key = 'schema';");
            } else if (schema != kSchemaVersion) {
                // Another schema (a newer build): unusable here, so it is treated like a damaged
                // index and reset (an empty cache beats a cache that never opens).
                throw SqliteError("cache schema version " + std::to_string(schema) + " is not supported",
                                  SQLITE_CORRUPT);
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
        seg_info = Stmt(writer, "UPDATE segments SET secret = ?2, algorithm = ?3, block_count = ?4 WHERE id = ?1 AND "
                                "(secret IS NULL OR secret != ?2 OR algorithm != ?3 OR block_count != ?4)");
        seg_insert = Stmt(writer, "INSERT INTO segments(hohodk, created, last_used) VALUES(?1, ?2, ?2)");
        seg_add_bytes = Stmt(writer, "UPDATE segments SET bytes = bytes + ?2, last_used = ?3 WHERE id = ?1");
        seg_touch = Stmt(writer, "UPDATE segments SET last_used = ?2 WHERE hohodk = ?1");
        seg_delete = Stmt(writer, "DELETE FROM segments WHERE id = ?1 RETURNING bytes");
        block_find = Stmt(writer, "SELECT hash, pos, length FROM blocks WHERE segment = ?1 AND idx = ?2");
        block_insert = Stmt(writer, "INSERT INTO blocks(segment, idx, hash, pos, length) VALUES(?1, ?2, ?3, ?4, ?5)");
        block_delete = Stmt(writer, "DELETE FROM blocks WHERE segment = ?1 AND idx = ?2 RETURNING length");
        block_move = Stmt(writer, "UPDATE blocks SET pos = ?3, length = ?4 WHERE segment = ?1 AND idx = ?2");
        block_count = Stmt(writer, "SELECT count(*) FROM blocks WHERE segment = ?1");
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
        std::shared_lock conn(conn_mutex);
        auto r = take_reader();
        exec(r->db, "BEGIN");
        struct End {
            Reader& r;
            ~End() { sqlite3_exec(r.db, "COMMIT", nullptr, nullptr, nullptr); }
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

    std::filesystem::path data_file(std::int64_t id) const
    {
        char sub[4];
        std::snprintf(sub, sizeof sub, "%02x", static_cast<unsigned>(id & 0xff));
        return config.directory / "data" / sub / (std::to_string(id) + ".seg");
    }

    // The open data file of segment `id` (created when `create`), or nullptr.
    std::shared_ptr<File> file_of(std::int64_t id, bool create)
    {
        {
            std::lock_guard lock(files_mutex);
            for (auto it = files.begin(); it != files.end(); ++it)
                if (it->first == id) {
                    files.splice(files.end(), files, it);
                    return it->second;
                }
        }
        auto f = File::open(data_file(id), create);
        if (!f)
            return nullptr;
        std::lock_guard lock(files_mutex);
        files.emplace_back(id, f);
        if (files.size() > kOpenFiles)
            files.pop_front();
        return f;
    }

    // Deletes the data files of segments whose rows are gone (after the commit that dropped them).
    void delete_files(const std::vector<std::int64_t>& ids)
    {
        for (std::int64_t id : ids) {
            {
                std::lock_guard lock(files_mutex);
                std::erase_if(files, [id](const auto& e) { return e.first == id; });
            }
            if (!remove_file(data_file(id)))
                PD_WARN("cache: cannot delete {}", data_file(id).string());
        }
    }

    // Drops segment `id` and its blocks (writer lock held, inside a transaction); its file is
    // deleted by the caller after the commit.
    void drop_segment(std::int64_t id, std::vector<std::int64_t>& dropped)
    {
        std::int64_t bytes = 0;
        {
            ResetGuard g{seg_delete};
            seg_delete.i64(1, id);
            if (seg_delete.step())
                bytes = seg_delete.col_i64(0);
            while (seg_delete.step()) {
            }
        }
        ResetGuard g{total_add};
        total_add.i64(1, -bytes);
        total_add.step();
        dropped.push_back(id);
    }

    // Drops segments chosen by `select` (a query returning segment ids and bytes, in eviction
    // order, with ?1 = arg) until `enough(total)` holds. Writer lock held, inside a transaction.
    void evict(const char* select, const std::function<bool(std::int64_t)>& enough, std::int64_t arg,
               std::vector<std::int64_t>& dropped)
    {
        std::int64_t total = total_bytes();
        std::vector<std::int64_t> victims;
        {
            Stmt q(writer, select);
            q.i64(1, arg);
            while (!enough(total) && q.step()) {
                victims.push_back(q.col_i64(0));
                total -= q.col_i64(1);
            }
        }
        for (std::int64_t id : victims)
            drop_segment(id, dropped);
    }

    void enforce_limits_locked(std::vector<std::int64_t>& dropped)
    {
        std::int64_t quota = static_cast<std::int64_t>(config.quota_bytes);
        evict("SELECT id, bytes FROM segments WHERE created < ?1 ORDER BY created",
              [](std::int64_t) { return false; }, now_seconds() - config.max_age.count(), dropped);
        if (total_bytes() > quota) {
            // Evict down to 90 % so that the next puts do not evict again at once.
            std::int64_t target = quota - quota / 10;
            evict("SELECT id, bytes FROM segments WHERE ?1 = ?1 ORDER BY last_used, id",
                  [target](std::int64_t total) { return total <= target; }, 0, dropped);
        }
    }

    // Data files whose segment has no row: left by a process killed between a commit and the
    // deletion of the files it dropped, or before the commit of a put that created them. Called
    // inside a write transaction, so no other writer is between writing a file and committing.
    void sweep_orphans(std::vector<std::int64_t>& orphans)
    {
        std::error_code ec;
        std::set<std::int64_t> known;
        {
            Stmt q(writer, "SELECT id FROM segments");
            while (q.step())
                known.insert(q.col_i64(0));
        }
        for (auto it = std::filesystem::recursive_directory_iterator(config.directory / "data", ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
            if (!it->is_regular_file(ec) || it->path().extension() != ".seg")
                continue;
            char* end = nullptr;
            std::string stem = it->path().stem().string();
            long long id = std::strtoll(stem.c_str(), &end, 10);
            if (end && *end == '\0' && !known.count(id))
                orphans.push_back(id);
        }
    }

    // Runs body(dropped) in a write transaction and tells every process of the commit (the
    // shared counter); the caller holds write_mutex and deletes the data files of the segments
    // the body dropped once it may (after the commit).
    template <typename F>
    auto transaction_locked(F&& body, std::vector<std::int64_t>& dropped)
    {
        exec(writer, "BEGIN IMMEDIATE");
        try {
            auto result = body(dropped);
            exec(writer, "COMMIT");
            if (counter)
                counter->increment();
            return result;
        } catch (...) {
            sqlite3_exec(writer, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }

    // Runs body(dropped) in a write transaction; deletes the data files of the segments it
    // dropped once the transaction committed (outside the write lock).
    template <typename F>
    auto write_transaction(F&& body)
    {
        std::vector<std::int64_t> dropped;
        std::shared_lock conn(conn_mutex);
        std::unique_lock lock(write_mutex);
        auto result = transaction_locked(body, dropped);
        lock.unlock();
        delete_files(dropped);
        return result;
    }

    void open_connections()
    {
        writer = open_db(file, false);
        create_schema();
        prepare();
    }

    // ---- verification state (this process) ----

    // Whether `key`'s block, read from `where` in segment `id`'s file, was verified under `stamp`
    // (forgets the segment's verifications when its file changed since).
    bool is_checked(std::int64_t id, const File::Stamp& stamp, const BlockKey& key, const Reader::Location& where)
    {
        std::lock_guard lock(checked_mutex);
        auto it = checked.find(id);
        if (it == checked.end())
            return false;
        if (!(it->second.stamp == stamp)) {
            checked.erase(it);
            return false;
        }
        if (key.index >= it->second.blocks.size())
            return false;
        const CheckedBlock& c = it->second.blocks[key.index];
        return c.valid && c.pos == where.pos && c.length == where.length && c.hash_prefix == hash_prefix(key.hash);
    }
    void mark_checked(std::int64_t id, const File::Stamp& stamp, const BlockKey& key, const Reader::Location& where)
    {
        std::lock_guard lock(checked_mutex);
        auto& c = checked[id];
        if (!(c.stamp == stamp)) {
            c.stamp = stamp;
            c.blocks.clear();
        }
        if (c.blocks.size() <= key.index)
            c.blocks.resize(key.index + 1);
        c.blocks[key.index] = {true, where.pos, where.length, hash_prefix(key.hash)};
    }
    void forget_checked(std::int64_t id)
    {
        std::lock_guard lock(checked_mutex);
        checked.erase(id);
    }

    // The data file of segment `id` for writing: the cached handle only while some name still
    // refers to it (File::linked: not deleted or replaced on disk), else a new one (created, after
    // clearing whatever stands in its way).
    std::shared_ptr<File> file_for_write(std::int64_t id)
    {
        std::shared_ptr<File> f;
        {
            std::lock_guard lock(files_mutex);
            for (auto& e : files)
                if (e.first == id)
                    f = e.second;
        }
        if (f && f->linked())
            return f;
        {
            std::lock_guard lock(files_mutex);
            std::erase_if(files, [id](const auto& e) { return e.first == id; });
        }
        forget_checked(id);
        if (auto created = file_of(id, true))
            return created;
        clear_obstacles(id);
        return file_of(id, true);
    }

    // Something that is not what the cache expects stands where segment `id`'s data file must go
    // (a file named like a folder of the path, a folder named like the data file): it is removed,
    // so that one stray object cannot block every future put.
    void clear_obstacles(std::int64_t id)
    {
        std::error_code ec;
        auto file = data_file(id);
        for (const auto& dir : {file.parent_path().parent_path(), file.parent_path()})
            if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
                PD_WARN("cache: {} is not a folder: removed", dir.string());
                std::filesystem::remove(dir, ec);
            }
        if (std::filesystem::exists(file, ec) && !std::filesystem::is_regular_file(file, ec)) {
            PD_WARN("cache: {} is not a file: removed", file.string());
            std::filesystem::remove_all(file, ec);
        }
    }

    // Drops single blocks whose stored bytes are wrong or gone (writer lock held, inside a
    // transaction) unless their file changed since the damage was seen; a segment left without
    // blocks is dropped whole.
    void drop_blocks_locked(const std::vector<Damage>& damage, std::vector<std::int64_t>& dropped)
    {
        std::set<std::int64_t> segments;
        for (const Damage& d : damage) {
            const std::int64_t id = d.segment;
            if (d.block == kWholeSegment) {
                std::error_code ec;
                if (d.seen && std::filesystem::exists(data_file(id), ec))
                    continue; // the file is back (recreated by a put)
                PD_WARN("cache: the data file of segment {} ({}) is gone: its blocks are dropped and will be "
                        "fetched again", id, data_file(id).string());
                forget_checked(id);
                drop_segment(id, dropped); // no-op if another process dropped it already
                ++n_dropped;
                continue;
            }
            if (d.seen) {
                File::Stamp now;
                auto f = file_of(id, false);
                if (f && (!f->stamp(now) || !(now == *d.seen)))
                    continue; // written since (perhaps repaired): the next read checks it again
            }
            std::int64_t length = -1;
            {
                ResetGuard g{block_delete};
                block_delete.i64(1, id).i64(2, d.block);
                if (block_delete.step())
                    length = block_delete.col_i64(0);
                while (block_delete.step()) {
                }
            }
            if (length < 0)
                continue; // already gone
            PD_WARN("cache: block {} of segment {} ({}) does not match its hash or cannot be read: dropped, it will "
                    "be fetched again", d.block, id, data_file(id).string());
            ++n_dropped;
            {
                ResetGuard g{seg_add_bytes};
                seg_add_bytes.i64(1, id).i64(2, -length).i64(3, now_seconds());
                seg_add_bytes.step();
            }
            ResetGuard g{total_add};
            total_add.i64(1, -length);
            total_add.step();
            segments.insert(id);
        }
        for (std::int64_t id : segments) {
            forget_checked(id);
            ResetGuard g{block_count};
            block_count.i64(1, id);
            if (block_count.step() && block_count.col_i64(0) == 0) {
                block_count.reset();
                drop_segment(id, dropped);
            }
        }
    }

    void drop_blocks(const std::vector<Damage>& damage)
    {
        if (damage.empty())
            return;
        write_transaction([&](std::vector<std::int64_t>& dropped) {
            drop_blocks_locked(damage, dropped);
            return 0;
        });
        memo_forget();
    }

    // At open: segments whose data file is gone lose their rows; blocks past the end of a
    // truncated data file are dropped (their bytes are gone). Writer lock held, in a transaction.
    void check_files(std::vector<std::int64_t>& dropped)
    {
        std::vector<std::pair<std::int64_t, std::uint64_t>> segments; // id, bytes needed
        {
            Stmt q(writer, "SELECT segment, MAX(pos + length) FROM blocks GROUP BY segment");
            while (q.step())
                segments.emplace_back(q.col_i64(0), static_cast<std::uint64_t>(q.col_i64(1)));
        }
        std::uint64_t missing = 0, truncated = 0;
        std::vector<Damage> bad;
        for (auto [id, need] : segments) {
            std::error_code ec;
            std::uint64_t size = std::filesystem::file_size(data_file(id), ec);
            if (ec) {
                ++missing;
                drop_segment(id, dropped);
                continue;
            }
            if (size >= need)
                continue;
            ++truncated;
            Stmt q(writer, "SELECT idx FROM blocks WHERE segment = ?1 AND pos + length > ?2");
            q.i64(1, id).i64(2, static_cast<std::int64_t>(size));
            while (q.step())
                bad.push_back({id, static_cast<std::uint32_t>(q.col_i64(0)), std::nullopt});
        }
        drop_blocks_locked(bad, dropped);
        if (missing || truncated)
            PD_WARN("cache: {} segment file(s) missing and {} truncated in {}: {} segment(s) and {} block(s) dropped",
                    missing, truncated, config.directory.string(), missing, bad.size());
    }

    // Keeps a copy of a damaged index for inspection (at most kQuarantineKept of them).
    void quarantine()
    {
        std::error_code ec;
        auto dir = config.directory / "quarantine";
        std::filesystem::create_directories(dir, ec);
        std::string stamp = std::to_string(now_seconds());
        for (const char* ext : {"", "-wal"}) {
            auto from = file;
            from += ext;
            if (std::filesystem::exists(from, ec))
                std::filesystem::copy_file(from, dir / ("index-" + stamp + ".db" + ext),
                                           std::filesystem::copy_options::overwrite_existing, ec);
        }
        std::vector<std::filesystem::path> copies;
        for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
             it.increment(ec))
            if (it->path().extension() == ".db")
                copies.push_back(it->path());
        std::sort(copies.begin(), copies.end());
        while (copies.size() > kQuarantineKept) {
            std::filesystem::remove(copies.front(), ec);
            auto wal = copies.front();
            wal += "-wal";
            std::filesystem::remove(wal, ec);
            copies.erase(copies.begin());
        }
    }

    // Opens a connection of its own to the index and returns check(db); false if anything throws.
    // (The statements of `check` are gone when it returns, before the connection closes.)
    template <typename F>
    bool probe_index(F&& check)
    {
        sqlite3* db = nullptr;
        bool ok = false;
        try {
            db = open_db(file, false);
            ok = check(db);
        } catch (const std::exception&) {
            ok = false;
        }
        if (db)
            sqlite3_close(db);
        return ok;
    }

    // True when the index file is a sound database of our schema.
    bool index_healthy()
    {
        return probe_index([](sqlite3* db) {
            Stmt check(db, "PRAGMA quick_check(1)");
            const unsigned char* text = check.step() ? sqlite3_column_text(check.get(), 0) : nullptr;
            if (!text || std::strcmp(reinterpret_cast<const char*>(text), "ok") != 0)
                return false;
            Stmt v(db, "SELECT value FROM meta WHERE key = 'schema'");
            return v.step() && (v.col_i64(0) == kSchemaVersion || v.col_i64(0) == 2); // 2: migrated at open
        });
    }

    // Empties a damaged index through SQLite's own locking (other processes then see an empty
    // database, not a file that vanished under them): SQLITE_DBCONFIG_RESET_DATABASE + VACUUM,
    // the procedure SQLite documents for badly corrupted files. If even that fails (the file is
    // not a database at all and cannot be opened), the files are deleted.
    void reset_index()
    {
        bool done = probe_index([](sqlite3* db) {
            sqlite3_table_column_metadata(db, nullptr, "meta", "key", nullptr, nullptr, nullptr, nullptr, nullptr);
            sqlite3_db_config(db, SQLITE_DBCONFIG_RESET_DATABASE, 1, nullptr);
            bool vacuumed = sqlite3_exec(db, "VACUUM", nullptr, nullptr, nullptr) == SQLITE_OK;
            sqlite3_db_config(db, SQLITE_DBCONFIG_RESET_DATABASE, 0, nullptr);
            return vacuumed;
        });
        bool usable = done && probe_index([](sqlite3* db) { return Stmt(db, "SELECT count(*) FROM sqlite_schema").step(); });
        if (!usable)
            for (const char* ext : {"", "-wal", "-shm", "-journal"}) {
                auto f = file;
                f += ext;
                remove_file(f);
            }
    }

    // The index is damaged (SQLite said so): closes every connection, keeps a copy in
    // quarantine/, resets the index to an empty cache unless another thread or process already
    // did, reopens, and deletes the data files that no row names any more.
    void recover(const std::string& reason)
    {
        std::unique_lock conn(conn_mutex);
        std::lock_guard wlock(write_mutex);
        close_connections();
        if (!index_healthy()) {
            PD_WARN("cache: the index {} is damaged ({}): a copy goes to quarantine/ and the cache starts empty",
                    file.string(), reason);
            quarantine();
            reset_index();
            ++n_resets;
        }
        open_connections();
        {
            std::lock_guard lock(files_mutex);
            files.clear();
        }
        {
            std::lock_guard lock(checked_mutex);
            checked.clear();
        }
        memo_forget();
        std::vector<std::int64_t> orphans;
        transaction_locked([&](std::vector<std::int64_t>& dropped) {
            sweep_orphans(dropped);
            return 0;
        }, orphans);
        delete_files(orphans);
    }

    // For the catch blocks of the public members: a damaged index is recovered (the failed call
    // itself reports failure; the next one works on the repaired cache).
    void on_error(const char* what, const std::exception& e)
    {
        PD_ERROR("cache: {}: {}", what, e.what());
        auto* se = dynamic_cast<const SqliteError*>(&e);
        if (!se || !se->corrupt())
            return;
        try {
            recover(e.what());
        } catch (const std::exception& again) {
            PD_ERROR("cache: recovering the index failed: {}", again.what());
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
        impl->counter = SharedCounter::open(config.directory);
        if (!impl->counter)
            PD_WARN("cache: no shared change counter in {}: reads always consult the index", config.directory.string());
        auto first_use = [&] {
            impl->write_transaction([&](std::vector<std::int64_t>& dropped) {
                impl->sweep_orphans(dropped);
                impl->check_files(dropped);
                impl->enforce_limits_locked(dropped);
                return 0;
            });
        };
        // A damaged index (or one of another schema) is reset at open, once; if the reset cannot
        // make it usable the open fails.
        try {
            impl->open_connections();
            first_use();
        } catch (const SqliteError& e) {
            if (!e.corrupt())
                throw;
            impl->recover(e.what());
            first_use();
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

// Locations of the keys, from the memo and then from the index (one read transaction). With
// `leading`, stops at the first key that is not cached; otherwise answers for every key (a key that
// is not cached gets segment 0).
static std::vector<Reader::Location> locate(Store::Impl& s, std::span<const BlockKey> keys, bool leading)
{
    std::vector<Reader::Location> where;
    std::uint64_t v = s.memo_lookup(keys, where);
    if (where.size() == keys.size())
        return where;
    std::size_t known = where.size();
    s.with_reader([&](Reader& r) {
        for (std::size_t i = known; i < keys.size(); ++i) {
            auto loc = r.lookup(keys[i]);
            if (!loc.segment && leading)
                break;
            where.push_back(loc);
        }
    });
    // The memo keeps positive answers only: the leading run of found keys.
    std::size_t found = known;
    while (found < where.size() && where[found].segment)
        ++found;
    s.memo_store(v, keys.subspan(known, found - known), std::span(where).subspan(known, found - known));
    return where;
}

std::vector<bool> Store::contains(std::span<const BlockKey> keys)
{
    std::vector<bool> present(keys.size(), false);
    try {
        auto where = locate(*impl_, keys, false);
        for (std::size_t i = 0; i < where.size(); ++i)
            present[i] = where[i].segment != 0;
    } catch (const std::exception& e) {
        impl_->on_error("contains", e);
    }
    return present;
}

namespace {

using BadBlocks = std::vector<Damage>;

// Reads one run of requests (one data file, consecutive in the file and in the caller's memory)
// and checks every block not yet verified under the file's current stamp against its hash.
// Returns how many leading requests were satisfied; a block whose bytes are wrong, or lie past the
// end of the file, goes to `bad`. The bytes returned are always bytes that were hashed, or bytes
// copied while the file kept the stamp under which they had been hashed before: a partial request
// is served from the whole block read into `scratch`, and when the stamp after the copy differs
// from the one before (somebody wrote the file meanwhile), every block of the run is hashed again.
std::size_t read_run(Store::Impl& s, std::int64_t segment, std::span<const ReadBlock> reqs,
                     std::span<const Reader::Location> where, std::vector<std::uint8_t>& scratch, BadBlocks& bad)
{
    auto f = s.file_of(segment, false);
    if (!f) { // the file is gone: every block of the segment is lost
        bad.push_back({segment, kWholeSegment, File::Stamp{}});
        return 0;
    }
    File::Stamp before, after;
    if (!f->stamp(before))
        return 0;
    const std::uint64_t file_pos = where[0].pos + reqs[0].offset;
    std::uint64_t length = 0;
    for (const ReadBlock& r : reqs)
        length += r.out.size();
    std::size_t ok = reqs.size();
    std::optional<std::size_t> wrong;
    if (!f->read_at(file_pos, {reqs[0].out.data(), static_cast<std::size_t>(length)})) {
        // Short file (truncated) or an I/O error: serve what can be read, block by block.
        ok = 0;
        while (ok < reqs.size() && f->read_at(where[ok].pos + reqs[ok].offset, reqs[ok].out))
            ++ok;
        if (ok < reqs.size() && where[ok].pos + where[ok].length > before.size)
            wrong = ok; // past the end of the file: its bytes are gone
    }
    // Hashes request i's block; the caller's bytes are then the hashed ones.
    auto check = [&](std::size_t i) {
        const ReadBlock& r = reqs[i];
        ++s.n_verified;
        if (r.offset == 0 && r.out.size() == where[i].length)
            return bytes_match(r.key, r.out);
        scratch.resize(where[i].length);
        if (!f->read_at(where[i].pos, scratch) || !bytes_match(r.key, scratch))
            return false;
        std::memcpy(r.out.data(), scratch.data() + r.offset, r.out.size());
        return true;
    };
    std::vector<bool> hashed(ok, false);
    for (std::size_t i = 0; i < ok; ++i) {
        if (s.is_checked(segment, before, reqs[i].key, where[i]))
            continue;
        if (!check(i)) {
            ok = i;
            wrong = i;
            break;
        }
        hashed[i] = true;
    }
    bool steady = f->stamp(after) && after == before;
    if (!steady) {
        // Written during the copy: the blocks served on the strength of an earlier verification
        // may have changed under it; hash them now.
        for (std::size_t i = 0; i < ok; ++i)
            if (!hashed[i] && !check(i)) {
                ok = i;
                wrong = i;
                break;
            }
    } else if (before.settled(static_cast<unsigned>(s.config.settle.count()))) {
        for (std::size_t i = 0; i < ok; ++i)
            if (hashed[i])
                s.mark_checked(segment, before, reqs[i].key, where[i]);
    }
    // Dropped only when nobody wrote the file while we looked (else a put may be repairing it);
    // the next read checks it again either way.
    if (wrong && steady)
        bad.push_back({segment, reqs[*wrong].key.index, before});
    return ok;
}

} // namespace

std::size_t Store::read(std::span<const ReadBlock> requests)
{
    // Where each block is (memo, else one read transaction of the index), then one positional
    // read per run of requests that are consecutive both in one data file and in the caller's
    // memory, each block checked against its hash (read_run).
    std::vector<Reader::Location> where;
    try {
        std::vector<BlockKey> keys;
        keys.reserve(requests.size());
        for (const ReadBlock& r : requests)
            keys.push_back(r.key);
        where = locate(*impl_, keys, true);
    } catch (const std::exception& e) {
        impl_->on_error("read", e);
        return 0;
    }
    std::size_t usable = 0;
    while (usable < where.size() && requests[usable].offset + requests[usable].out.size() <= where[usable].length)
        ++usable;
    std::size_t done = 0;
    BadBlocks bad;
    std::vector<std::uint8_t> scratch;
    while (done < usable) {
        std::size_t first = done, last = done + 1;
        std::uint64_t file_pos = where[first].pos + requests[first].offset;
        std::uint64_t length = requests[first].out.size();
        while (last < usable && where[last].segment == where[first].segment &&
               where[last].pos + requests[last].offset == file_pos + length &&
               requests[last].out.data() == requests[first].out.data() + length) {
            length += requests[last].out.size();
            ++last;
        }
        std::size_t n = read_run(*impl_, where[first].segment, requests.subspan(first, last - first),
                                 std::span(where).subspan(first, last - first), scratch, bad);
        done += n;
        if (n < last - first)
            break;
    }
    if (!bad.empty()) {
        try {
            impl_->drop_blocks(bad);
        } catch (const std::exception& e) {
            impl_->on_error("dropping damaged blocks", e);
        }
    } else if (done < usable) {
        impl_->memo_forget(); // evicted meanwhile (by another process), or the file keeps changing
    }
    return done;
}

bool Store::put(std::span<const PutBlock> blocks, Tag tag, std::string* error)
{
    if (blocks.empty())
        return true;
    try {
        auto& s = *impl_;
        s.write_transaction([&](std::vector<std::int64_t>& dropped) {
            s.flush_touches();
            std::int64_t now = now_seconds();
            std::int64_t added = 0;
            Bytes last_segment;
            std::int64_t seg_id = 0;
            std::shared_ptr<File> file;
            std::uint64_t stored_pos = 0, stored_len = 0;
            std::vector<std::uint8_t> compare;
            // The segment's row (created if needed) and what serving it to peers needs: its secret
            // Kp ([MS-PCCRR] 3.2.5.3 encrypts with it), hash algorithm and block count.
            auto find_or_create = [&](const PutBlock& b) {
                Bytes segment = b.key.segment;
                seg_id = 0;
                {
                    ResetGuard g1{s.seg_find};
                    s.seg_find.blob(1, segment);
                    if (s.seg_find.step())
                        seg_id = s.seg_find.col_i64(0);
                }
                if (!seg_id) {
                    ResetGuard g2{s.seg_insert};
                    s.seg_insert.blob(1, segment).i64(2, now);
                    s.seg_insert.step();
                    seg_id = sqlite3_last_insert_rowid(s.writer);
                }
                if (!b.segment_secret.empty()) {
                    ResetGuard g3{s.seg_info};
                    s.seg_info.i64(1, seg_id).blob(2, b.segment_secret).i64(3, b.key.algorithm).i64(4, b.segment_blocks);
                    s.seg_info.step();
                }
            };
            // New blocks of the current segment: their bytes are written in as few calls as
            // possible (runs consecutive in the file and in memory), and the segment's byte count
            // and tag are updated once, all before the commit (bytes first, then rows visible).
            struct Run {
                std::uint64_t pos;
                const std::uint8_t* data;
                std::size_t size;
            };
            std::vector<Run> runs;
            std::int64_t seg_bytes = 0;
            auto flush = [&] {
                for (const Run& r : runs)
                    if (!file->write_at(r.pos, {r.data, r.size}))
                        throw std::runtime_error("cannot write " + s.data_file(seg_id).string());
                runs.clear();
                if (seg_bytes) {
                    ResetGuard g{s.seg_add_bytes};
                    s.seg_add_bytes.i64(1, seg_id).i64(2, seg_bytes).i64(3, now);
                    s.seg_add_bytes.step();
                    ResetGuard g3{s.tag_insert};
                    s.tag_insert.blob(1, tag).i64(2, seg_id);
                    s.tag_insert.step();
                    added += seg_bytes;
                    seg_bytes = 0;
                }
            };
            for (const PutBlock& b : blocks) {
                if (!seg_id || !same(last_segment, b.key.segment)) {
                    if (seg_id)
                        flush();
                    find_or_create(b);
                    last_segment = b.key.segment;
                    file.reset();
                }
                bool have_row = false;
                {
                    ResetGuard g{s.block_find};
                    s.block_find.i64(1, seg_id).i64(2, b.key.index);
                    if (s.block_find.step()) {
                        if (same(s.block_find.col_blob(0), b.key.hash)) {
                            have_row = true;
                            stored_pos = static_cast<std::uint64_t>(s.block_find.col_i64(1));
                            stored_len = static_cast<std::uint64_t>(s.block_find.col_i64(2));
                        } else {
                            // Cached under another hash list (another, possibly forged, CI with
                            // this segment ID): the verified data replaces the whole segment, in a
                            // new file, so that no reader ever sees a mix of the two.
                            s.block_find.reset();
                            if (file)
                                flush();
                            s.drop_segment(seg_id, dropped);
                            find_or_create(b);
                            file.reset();
                        }
                    }
                }
                if (!file) {
                    // Checked once per segment and put: the file may have been deleted, replaced
                    // or truncated on disk. A data file gets the segment's full length at once.
                    file = s.file_for_write(seg_id);
                    if (file)
                        file->reserve(std::max<std::uint64_t>(b.segment_length, b.position + b.data.size()));
                }
                if (!file)
                    throw std::runtime_error("cannot open " + s.data_file(seg_id).string());
                if (have_row) {
                    // Already cached: keep the row, but repair the stored bytes (and the row's
                    // place) when they are not the verified ones any more.
                    if (stored_pos == b.position && stored_len == b.data.size()) {
                        compare.resize(b.data.size());
                        if (file->read_at(b.position, compare) &&
                            std::memcmp(compare.data(), b.data.data(), b.data.size()) == 0)
                            continue;
                    }
                    if (!file->write_at(b.position, b.data))
                        throw std::runtime_error("cannot write " + s.data_file(seg_id).string());
                    ResetGuard g{s.block_move};
                    s.block_move.i64(1, seg_id).i64(2, b.key.index).i64(3, b.position)
                        .i64(4, static_cast<std::int64_t>(b.data.size()));
                    s.block_move.step();
                    if (stored_len != b.data.size()) {
                        std::int64_t delta = static_cast<std::int64_t>(b.data.size()) - static_cast<std::int64_t>(stored_len);
                        ResetGuard g2{s.seg_add_bytes};
                        s.seg_add_bytes.i64(1, seg_id).i64(2, delta).i64(3, now);
                        s.seg_add_bytes.step();
                        added += delta;
                    }
                    ++s.n_repaired;
                    PD_WARN("cache: block {} of segment {} had wrong or missing bytes on disk: rewritten", b.key.index,
                            seg_id);
                    continue;
                }
                if (!runs.empty() && runs.back().pos + runs.back().size == b.position &&
                    runs.back().data + runs.back().size == b.data.data())
                    runs.back().size += b.data.size();
                else
                    runs.push_back({b.position, b.data.data(), b.data.size()});
                {
                    ResetGuard g{s.block_insert};
                    s.block_insert.i64(1, seg_id).i64(2, b.key.index).blob(3, b.key.hash).i64(4, b.position)
                        .i64(5, static_cast<std::int64_t>(b.data.size()));
                    s.block_insert.step();
                }
                seg_bytes += static_cast<std::int64_t>(b.data.size());
            }
            if (file)
                flush();
            if (added) {
                ResetGuard g{s.total_add};
                s.total_add.i64(1, added);
                s.total_add.step();
            }
            if (s.total_bytes() > static_cast<std::int64_t>(s.config.quota_bytes))
                s.enforce_limits_locked(dropped);
            return 0;
        });
        return true;
    } catch (const std::exception& e) {
        if (error)
            *error = e.what();
        impl_->on_error("put", e);
        return false;
    }
}

void Store::touch(Bytes segment)
{
    auto& s = *impl_;
    std::int64_t now = now_seconds();
    std::lock_guard lock(s.touch_mutex);
    std::vector<std::uint8_t> key(segment.begin(), segment.end());
    auto& last = s.touched[key];
    if (now - last < kTouchInterval)
        return;
    last = now;
    s.pending_touches[std::move(key)] = now; // written by the next put, limit check or close
}

std::uint64_t Store::flush_tag(Tag tag)
{
    auto& s = *impl_;
    try {
        return s.write_transaction([&](std::vector<std::int64_t>& dropped) {
            std::vector<std::int64_t> victims;
            {
                Stmt q(s.writer, "SELECT segment FROM tags WHERE tag = ?1");
                q.blob(1, tag);
                while (q.step())
                    victims.push_back(q.col_i64(0));
            }
            for (std::int64_t id : victims)
                s.drop_segment(id, dropped);
            return static_cast<std::uint64_t>(victims.size());
        });
    } catch (const std::exception& e) {
        impl_->on_error("flush", e);
        return 0;
    }
}

std::uint64_t Store::enforce_limits()
{
    try {
        return impl_->write_transaction([&](std::vector<std::int64_t>& dropped) {
            impl_->flush_touches();
            impl_->enforce_limits_locked(dropped);
            return static_cast<std::uint64_t>(dropped.size());
        });
    } catch (const std::exception& e) {
        impl_->on_error("limits", e);
        return 0;
    }
}

std::uint64_t Store::version()
{
    if (impl_->counter)
        return impl_->counter->load();
    try {
        // data_version of a connection that never writes changes with every commit of any other
        // connection, this process's writer included.
        std::shared_lock conn(impl_->conn_mutex);
        std::lock_guard lock(impl_->version_mutex);
        if (!impl_->version_reader)
            impl_->version_reader = std::make_unique<Reader>(impl_->file);
        Reader& r = *impl_->version_reader;
        ResetGuard g{r.version};
        return r.version.step() ? static_cast<std::uint64_t>(r.version.col_i64(0)) : 0;
    } catch (const std::exception& e) {
        impl_->on_error("version", e);
        return 0; // waiters then re-check at their deadline only
    }
}

namespace {

SegmentEntry segment_from_row(Stmt& q)
{
    // columns: id, hohodk, secret, algorithm, block_count, created
    SegmentEntry e;
    auto id = q.col_blob(1);
    e.id.assign(id.begin(), id.end());
    auto secret = q.col_blob(2);
    e.secret.assign(secret.begin(), secret.end());
    e.algorithm = static_cast<std::uint32_t>(q.col_i64(3));
    e.block_count = static_cast<std::uint32_t>(q.col_i64(4));
    e.created = q.col_i64(5);
    return e;
}

void fill_blocks(sqlite3* db, std::int64_t segment, SegmentEntry& e)
{
    Stmt b(db, "SELECT idx FROM blocks WHERE segment = ?1 ORDER BY idx");
    b.i64(1, segment);
    while (b.step())
        e.blocks.push_back(static_cast<std::uint32_t>(b.col_i64(0)));
}

constexpr const char* kSegmentColumns = "SELECT id, hohodk, secret, algorithm, block_count, created FROM segments";

} // namespace

std::optional<SegmentEntry> Store::segment(Bytes id)
{
    try {
        return impl_->with_reader([&](Reader& r) -> std::optional<SegmentEntry> {
            Stmt q(r.db, (std::string(kSegmentColumns) + " WHERE hohodk = ?1").c_str());
            q.blob(1, id);
            if (!q.step())
                return std::nullopt;
            SegmentEntry e = segment_from_row(q);
            fill_blocks(r.db, q.col_i64(0), e);
            if (e.blocks.empty())
                return std::nullopt;
            return e;
        });
    } catch (const std::exception& e) {
        impl_->on_error("segment", e);
        return std::nullopt;
    }
}

std::vector<SegmentEntry> Store::segments()
{
    try {
        return impl_->with_reader([&](Reader& r) {
            std::vector<SegmentEntry> all;
            Stmt q(r.db, kSegmentColumns);
            while (q.step()) {
                all.push_back(segment_from_row(q));
                fill_blocks(r.db, q.col_i64(0), all.back());
            }
            return all;
        });
    } catch (const std::exception& e) {
        impl_->on_error("segments", e);
        return {};
    }
}

std::optional<std::vector<std::uint8_t>> Store::read_block(Bytes segment, std::uint32_t index)
{
    std::vector<std::uint8_t> hash;
    std::uint32_t algorithm = 0;
    std::uint64_t length = 0;
    try {
        bool found = impl_->with_reader([&](Reader& r) {
            Stmt q(r.db, "SELECT b.hash, b.length, s.algorithm FROM blocks b JOIN segments s ON b.segment = s.id "
                         "WHERE s.hohodk = ?1 AND b.idx = ?2");
            q.blob(1, segment).i64(2, index);
            if (!q.step())
                return false;
            auto h = q.col_blob(0);
            hash.assign(h.begin(), h.end());
            length = static_cast<std::uint64_t>(q.col_i64(1));
            algorithm = static_cast<std::uint32_t>(q.col_i64(2));
            return true;
        });
        if (!found || length == 0 || length > (1u << 20))
            return std::nullopt;
    } catch (const std::exception& e) {
        impl_->on_error("read_block", e);
        return std::nullopt;
    }
    std::vector<std::uint8_t> out(length);
    ReadBlock req{BlockKey{segment, index, hash, algorithm}, 0, out};
    if (read(std::span(&req, 1)) != 1)
        return std::nullopt;
    return out;
}

Stats Store::stats()
{
    Stats st;
    st.quota_bytes = impl_->config.quota_bytes;
    st.verified = impl_->n_verified.load();
    st.dropped = impl_->n_dropped.load();
    st.repaired = impl_->n_repaired.load();
    st.resets = impl_->n_resets.load();
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
        impl_->on_error("stats", e);
    }
    return st;
}

} // namespace pd::cache
