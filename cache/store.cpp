// SPDX-License-Identifier: MIT
//
// pd::cache::Store: SQLite index + one data file per segment (see store.hpp for the layout and
// the contracts).
#include "pd/cache/store.hpp"

#include "file.h"

#include "common/log.h"

#include "sqlite.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <list>
#include <map>
#include <set>
#include <unordered_map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

namespace pd::cache {
namespace {

using namespace sql;

constexpr int kSchemaVersion = 2;
constexpr std::size_t kOpenFiles = 256;      // data files kept open per store
constexpr std::size_t kReaders = 4;            // read connections (parallel readers)
constexpr std::int64_t kTouchInterval = 60;    // seconds between LRU updates of one segment

std::int64_t now_seconds()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// One read connection with its prepared statements.
struct Reader {
    sqlite3* db = nullptr;
    Stmt find;      // where (segment, idx) is stored, and its hash
    Stmt version;   // PRAGMA data_version

    explicit Reader(const std::filesystem::path& file) : db(open_db(file))
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

    std::mutex write_mutex;   // guards writer and its statements
    sqlite3* writer = nullptr;
    Stmt seg_find, seg_insert, seg_add_bytes, seg_touch, seg_delete, block_find, block_insert, tag_insert, total_get,
        total_add;

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

    // Change counter shared by every process (file "changes"), bumped after each commit; while it
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
        pool.clear();
        version_reader.reset();
        for (Stmt* s : {&seg_find, &seg_insert, &seg_add_bytes, &seg_touch, &seg_delete, &block_find, &block_insert,
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
                 "CREATE TABLE IF NOT EXISTS segments(id INTEGER PRIMARY KEY AUTOINCREMENT, hohodk BLOB NOT NULL UNIQUE,"
                 "  bytes INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL, last_used INTEGER NOT NULL);"
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
        seg_delete = Stmt(writer, "DELETE FROM segments WHERE id = ?1 RETURNING bytes");
        block_find = Stmt(writer, "SELECT hash FROM blocks WHERE segment = ?1 AND idx = ?2");
        block_insert = Stmt(writer, "INSERT INTO blocks(segment, idx, hash, pos, length) VALUES(?1, ?2, ?3, ?4, ?5)");
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

    // Runs body(dropped) in a write transaction; deletes the data files of the segments it
    // dropped once the transaction committed.
    template <typename F>
    auto write_transaction(F&& body)
    {
        std::vector<std::int64_t> dropped;
        std::unique_lock lock(write_mutex);
        exec(writer, "BEGIN IMMEDIATE");
        try {
            auto result = body(dropped);
            exec(writer, "COMMIT");
            if (counter)
                counter->increment();
            lock.unlock();
            delete_files(dropped);
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
        impl->counter = SharedCounter::open(config.directory / "changes");
        if (!impl->counter)
            PD_WARN("cache: no shared change counter in {}: reads always consult the index", config.directory.string());
        impl->create_schema();
        impl->prepare();
        impl->write_transaction([&](std::vector<std::int64_t>& dropped) {
            impl->sweep_orphans(dropped);
            impl->enforce_limits_locked(dropped);
            return 0;
        });
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
        PD_ERROR("cache: contains: {}", e.what());
    }
    return present;
}

std::size_t Store::read(std::span<const ReadBlock> requests)
{
    // Where each block is (memo, else one read transaction of the index), then one positional
    // read per run of requests that are consecutive both in one data file and in the caller's
    // memory.
    std::vector<Reader::Location> where;
    try {
        std::vector<BlockKey> keys;
        keys.reserve(requests.size());
        for (const ReadBlock& r : requests)
            keys.push_back(r.key);
        where = locate(*impl_, keys, true);
    } catch (const std::exception& e) {
        PD_ERROR("cache: read: {}", e.what());
        return 0;
    }
    std::size_t usable = 0;
    while (usable < where.size() && requests[usable].offset + requests[usable].out.size() <= where[usable].length)
        ++usable;
    std::size_t done = 0;
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
        auto f = impl_->file_of(where[first].segment, false);
        if (!f || !f->read_at(file_pos, {requests[first].out.data(), static_cast<std::size_t>(length)})) {
            impl_->memo_forget(); // evicted meanwhile (by another process)
            break;
        }
        done = last;
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
            auto find_or_create = [&](Bytes segment) {
                {
                    ResetGuard g1{s.seg_find};
                    s.seg_find.blob(1, segment);
                    if (s.seg_find.step()) {
                        seg_id = s.seg_find.col_i64(0);
                        return;
                    }
                }
                ResetGuard g2{s.seg_insert};
                s.seg_insert.blob(1, segment).i64(2, now);
                s.seg_insert.step();
                seg_id = sqlite3_last_insert_rowid(s.writer);
            };
            for (const PutBlock& b : blocks) {
                if (!seg_id || !same(last_segment, b.key.segment)) {
                    find_or_create(b.key.segment);
                    last_segment = b.key.segment;
                    file.reset();
                }
                {
                    ResetGuard g{s.block_find};
                    s.block_find.i64(1, seg_id).i64(2, b.key.index);
                    if (s.block_find.step()) {
                        if (same(s.block_find.col_blob(0), b.key.hash))
                            continue; // already cached
                        // Cached under another hash list (another, possibly forged, CI with this
                        // segment ID): the verified data replaces the whole segment, in a new file,
                        // so that no reader ever sees a mix of the two.
                        s.block_find.reset();
                        s.drop_segment(seg_id, dropped);
                        find_or_create(b.key.segment);
                        file.reset();
                    }
                }
                if (!file) {
                    // A new data file gets the segment's full length at once, so that readers can
                    // map it whole (File::read_at) before all of its blocks are there.
                    file = s.file_of(seg_id, true);
                    if (file)
                        file->reserve(std::max<std::uint64_t>(b.segment_length, b.position + b.data.size()));
                }
                if (!file || !file->write_at(b.position, b.data))
                    throw std::runtime_error("cannot write " + s.data_file(seg_id).string());
                {
                    ResetGuard g{s.block_insert};
                    s.block_insert.i64(1, seg_id).i64(2, b.key.index).blob(3, b.key.hash).i64(4, b.position)
                        .i64(5, static_cast<std::int64_t>(b.data.size()));
                    s.block_insert.step();
                }
                ResetGuard g{s.seg_add_bytes};
                s.seg_add_bytes.i64(1, seg_id).i64(2, static_cast<std::int64_t>(b.data.size())).i64(3, now);
                s.seg_add_bytes.step();
                added += static_cast<std::int64_t>(b.data.size());
                ResetGuard g3{s.tag_insert};
                s.tag_insert.blob(1, tag).i64(2, seg_id);
                s.tag_insert.step();
            }
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
        PD_ERROR("cache: put: {}", e.what());
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
        PD_ERROR("cache: flush: {}", e.what());
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
        PD_ERROR("cache: limits: {}", e.what());
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
        std::lock_guard lock(impl_->version_mutex);
        if (!impl_->version_reader)
            impl_->version_reader = std::make_unique<Reader>(impl_->file);
        Reader& r = *impl_->version_reader;
        ResetGuard g{r.version};
        return r.version.step() ? static_cast<std::uint64_t>(r.version.col_i64(0)) : 0;
    } catch (const std::exception& e) {
        PD_ERROR("cache: version: {}", e.what());
        return 0; // waiters then re-check at their deadline only
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
