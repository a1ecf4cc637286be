// Group record database over SQLite. See group_db.hpp for the contracts.
#include "pd/p2p/group_db.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <new>
#include <system_error>

#include "common/sqlite.h"

namespace pd::p2p {
namespace fs = std::filesystem;
using namespace pd::sql;

namespace {

// File identification: PRAGMA application_id ("PD2G") and the schema version in user_version.
constexpr std::int64_t kApplicationId = 0x50443247;
constexpr std::int64_t kSchemaVersion = 1;
constexpr char kExportMagic[8] = {'P', 'D', 'P', '2', 'P', 'G', 'D', 'B'};
constexpr std::uint32_t kExportVersion = 1;
constexpr std::uintmax_t kMaxImportBytes = 1ull << 30;

constexpr const char* kSchema =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB);"
    "CREATE TABLE records(id BLOB PRIMARY KEY, type BLOB NOT NULL, version INTEGER NOT NULL,"
    " flags INTEGER NOT NULL, creator BLOB, modified_by BLOB, attributes BLOB, created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL, modified INTEGER NOT NULL, security BLOB, data BLOB);"
    "CREATE INDEX records_order ON records(created, id);"
    "CREATE INDEX records_type ON records(type, created, id);"
    "CREATE INDEX records_expires ON records(expires);";

constexpr const char* kColumns =
    "id, type, version, flags, creator, modified_by, attributes, created, expires, modified, security, data";

fs::path to_path(const std::string& utf8)
{
    return fs::path(std::u8string(reinterpret_cast<const char8_t*>(utf8.data()), utf8.size()));
}

// Strings are stored as UTF-16LE blobs so that any code unit sequence (unpaired surrogates
// included) survives unchanged.
Bytes u16_blob(std::u16string_view s)
{
    Bytes b(s.size() * 2);
    for (std::size_t i = 0; i < s.size(); ++i) {
        b[2 * i] = static_cast<std::uint8_t>(s[i]);
        b[2 * i + 1] = static_cast<std::uint8_t>(s[i] >> 8);
    }
    return b;
}
std::u16string blob_u16(sql::Bytes b)
{
    std::u16string s(b.size() / 2, u'\0');
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char16_t>(b[2 * i] | (b[2 * i + 1] << 8));
    return s;
}
sql::Bytes span(const Guid& g) { return {g.b.data(), g.b.size()}; }
Guid blob_guid(sql::Bytes b)
{
    Guid g;
    if (b.size() == g.b.size()) std::memcpy(g.b.data(), b.data(), g.b.size());
    return g;
}

Record read_row(const Stmt& s)
{
    Record r;
    r.id = blob_guid(s.col_blob(0));
    r.type = blob_guid(s.col_blob(1));
    r.version = static_cast<std::uint32_t>(s.col_i64(2));
    r.flags = static_cast<std::uint32_t>(s.col_i64(3));
    r.creator = blob_u16(s.col_blob(4));
    r.modified_by = blob_u16(s.col_blob(5));
    r.attributes = blob_u16(s.col_blob(6));
    r.created = s.col_i64(7);
    r.expires = s.col_i64(8);
    r.modified = s.col_i64(9);
    auto sec = s.col_blob(10);
    r.security.assign(sec.begin(), sec.end());
    auto data = s.col_blob(11);
    r.data.assign(data.begin(), data.end());
    return r;
}

// INSERT (or REPLACE when `replace`) of every column.
void write_row(sqlite3* db, const Record& r, bool replace)
{
    Stmt s(db, replace ? "UPDATE records SET type=?2, version=?3, flags=?4, creator=?5, modified_by=?6,"
                         " attributes=?7, created=?8, expires=?9, modified=?10, security=?11, data=?12 WHERE id=?1"
                       : "INSERT INTO records(id, type, version, flags, creator, modified_by, attributes, created,"
                         " expires, modified, security, data) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)");
    Bytes creator = u16_blob(r.creator), modifier = u16_blob(r.modified_by), attrs = u16_blob(r.attributes);
    s.blob(1, span(r.id)).blob(2, span(r.type)).i64(3, r.version).i64(4, r.flags);
    s.blob(5, creator).blob(6, modifier).blob(7, attrs);
    s.i64(8, r.created).i64(9, r.expires).i64(10, r.modified).blob(11, r.security).blob(12, r.data);
    s.step();
}

bool find_row(sqlite3* db, const Guid& id, Record* out)
{
    Stmt s(db, (std::string("SELECT ") + kColumns + " FROM records WHERE id = ?1").c_str());
    s.blob(1, span(id));
    if (!s.step()) return false;
    if (out) *out = read_row(s);
    return true;
}

Hr map_sqlite(int code)
{
    switch (code & 0xFF) {
    case SQLITE_NOMEM: return hr::out_of_memory;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_SCHEMA:
    case SQLITE_ERROR: return hr::invalid_database;  // SQLITE_ERROR: e.g. "no such table" in a foreign file
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_AUTH: return hr::database_accessdenied;
    case SQLITE_FULL: return hr::disk_full;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return hr::group_in_use;
    default: return hr::fail;
    }
}

sqlite3* open_connection(const std::string& path, bool create, int& rc)
{
    sqlite3* db = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_close(db);
        return nullptr;
    }
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    sqlite3_extended_result_codes(db, 1);
    return db;
}

std::int64_t pragma_int(sqlite3* db, const char* sql)
{
    Stmt s(db, sql);
    return s.step() ? s.col_i64(0) : 0;
}

void put_u32(Bytes& b, std::uint32_t v)
{
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(v >> shift));
}

// Bounds-checked cursor over an export file.
struct Cursor {
    ByteSpan in;
    std::size_t pos = 0;
    bool take(std::size_t n, ByteSpan& out)
    {
        if (in.size() - pos < n) return false;
        out = in.subspan(pos, n);
        pos += n;
        return true;
    }
    bool u32(std::uint32_t& v)
    {
        ByteSpan b;
        if (!take(4, b)) return false;
        v = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
        return true;
    }
};

}  // namespace

struct GroupDb::Impl {
    std::string path;
    sqlite3* db = nullptr;
    std::mutex mu;
    std::uint64_t own_commits = 0;  // data_version does not move for this connection's own commits

    ~Impl() { sqlite3_close(db); }

    // Runs `f` (returning Hr) under the lock; SQLite errors become Hr values.
    template <class F>
    Hr guarded(F&& f)
    {
        std::lock_guard lock(mu);
        try {
            return f();
        } catch (const SqliteError&) {
            Hr h = map_sqlite(sqlite3_extended_errcode(db));
            if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            return h;
        } catch (const std::bad_alloc&) {
            if (db && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            return hr::out_of_memory;
        } catch (...) {
            if (db && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            return hr::fail;
        }
    }

    // One IMMEDIATE transaction around `f` (called with the lock held, inside guarded()); a failed
    // Hr from `f` rolls back.
    template <class F>
    Hr write_tx(F&& f)
    {
        exec(db, "BEGIN IMMEDIATE");
        Hr h = f();
        if (failed(h)) {
            exec(db, "ROLLBACK");
            return h;
        }
        exec(db, "COMMIT");
        ++own_commits;
        return h;
    }

    Hr merge_locked(const Record& r, bool& changed)
    {
        Record existing;
        if (!find_row(db, r.id, &existing)) {
            write_row(db, r, false);
            changed = true;
        } else if (compare_records(r, existing) > 0) {
            write_row(db, r, true);
            changed = true;
        } else {
            changed = false;
        }
        return hr::ok;
    }
};

GroupDb::GroupDb(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GroupDb::~GroupDb() = default;
const std::string& GroupDb::path() const { return impl_->path; }

Hr GroupDb::create(const std::string& path_utf8, std::unique_ptr<GroupDb>& out)
{
    if (path_utf8.empty()) return hr::invalid_arg;
    try {
        std::error_code ec;
        if (fs::exists(to_path(path_utf8), ec) || ec) return ec ? hr::database_accessdenied : hr::already_exists;
        auto impl = std::make_unique<Impl>();
        impl->path = path_utf8;
        int rc = SQLITE_OK;
        impl->db = open_connection(path_utf8, true, rc);
        if (!impl->db) return rc == SQLITE_NOMEM ? hr::out_of_memory : hr::database_accessdenied;
        bool created_here = false;
        Hr h = impl->guarded([&] {
            exec(impl->db, "PRAGMA journal_mode=WAL");
            return impl->write_tx([&] {
                // Another process may have created the file between the exists() check and here.
                if (pragma_int(impl->db, "PRAGMA application_id") != 0 ||
                    pragma_int(impl->db, "SELECT count(*) FROM sqlite_master") != 0)
                    return hr::already_exists;
                exec(impl->db, kSchema);
                exec(impl->db, ("PRAGMA application_id=" + std::to_string(kApplicationId)).c_str());
                exec(impl->db, ("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
                created_here = true;
                return hr::ok;
            });
        });
        if (failed(h)) {
            impl.reset();
            if (!created_here && h != hr::already_exists) destroy(path_utf8);  // leave no half-made file
            return h;
        }
        out.reset(new GroupDb(std::move(impl)));
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

Hr GroupDb::open(const std::string& path_utf8, std::unique_ptr<GroupDb>& out)
{
    if (path_utf8.empty()) return hr::invalid_arg;
    try {
        std::error_code ec;
        if (!fs::is_regular_file(to_path(path_utf8), ec)) return hr::database_not_present;
        auto impl = std::make_unique<Impl>();
        impl->path = path_utf8;
        int rc = SQLITE_OK;
        impl->db = open_connection(path_utf8, false, rc);
        if (!impl->db) return rc == SQLITE_NOMEM ? hr::out_of_memory : hr::database_accessdenied;
        Hr h = impl->guarded([&] {
            if (pragma_int(impl->db, "PRAGMA application_id") != kApplicationId ||
                pragma_int(impl->db, "PRAGMA user_version") != kSchemaVersion)
                return hr::invalid_database;
            exec(impl->db, "PRAGMA journal_mode=WAL");
            return hr::ok;
        });
        if (failed(h)) return h;
        out.reset(new GroupDb(std::move(impl)));
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

Hr GroupDb::destroy(const std::string& path_utf8)
{
    if (path_utf8.empty()) return hr::invalid_arg;
    try {
        bool any = false, denied = false;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
            std::error_code ec;
            if (fs::remove(to_path(path_utf8 + suffix), ec)) any = true;
            else if (ec && ec != std::errc::no_such_file_or_directory) denied = true;
        }
        if (denied) return hr::database_accessdenied;
        return any ? hr::ok : hr::database_not_present;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

Hr GroupDb::put_meta(std::string_view key, ByteSpan value)
{
    return impl_->guarded([&] {
        return impl_->write_tx([&] {
            Stmt s(impl_->db, "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2");
            sqlite3_bind_text(s.get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
            static const std::uint8_t kEmpty = 0;  // a zero-length blob, not NULL
            s.blob(2, value.empty() ? sql::Bytes(&kEmpty, 0) : value);
            s.step();
            return hr::ok;
        });
    });
}

Hr GroupDb::get_meta(std::string_view key, Bytes& value)
{
    return impl_->guarded([&] {
        Stmt s(impl_->db, "SELECT value FROM meta WHERE key = ?1");
        sqlite3_bind_text(s.get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
        if (!s.step()) return hr::not_found;
        auto b = s.col_blob(0);
        value.assign(b.begin(), b.end());
        return hr::ok;
    });
}

Hr GroupDb::insert_record(const Record& r)
{
    if (failed(check_record(r))) return hr::invalid_record;
    return impl_->guarded([&] {
        return impl_->write_tx([&] {
            if (find_row(impl_->db, r.id, nullptr)) return hr::already_exists;
            write_row(impl_->db, r, false);
            return hr::ok;
        });
    });
}

Hr GroupDb::replace_record(const Record& r)
{
    if (failed(check_record(r))) return hr::invalid_record;
    return impl_->guarded([&] {
        return impl_->write_tx([&] {
            if (!find_row(impl_->db, r.id, nullptr)) return hr::record_not_found;
            write_row(impl_->db, r, true);
            return hr::ok;
        });
    });
}

Hr GroupDb::get_record(const Guid& id, Record& out)
{
    return impl_->guarded([&] { return find_row(impl_->db, id, &out) ? hr::ok : hr::record_not_found; });
}

Hr GroupDb::list_records(const Guid* type_or_null, bool include_tombstones, std::vector<Record>& out)
{
    return impl_->guarded([&] {
        std::string sql = std::string("SELECT ") + kColumns + " FROM records WHERE (?1 IS NULL OR type = ?1)" +
                          (include_tombstones ? "" : " AND (flags & 2) = 0") + " ORDER BY created, id";
        Stmt s(impl_->db, sql.c_str());
        if (type_or_null) s.blob(1, span(*type_or_null));
        std::vector<Record> result;
        while (s.step()) result.push_back(read_row(s));
        out = std::move(result);
        return hr::ok;
    });
}

Hr GroupDb::purge_expired(Ticks now, std::vector<Record>& purged)
{
    std::vector<Record> result;
    Hr h = impl_->guarded([&] {
        // Most calls find nothing to purge: check with a read (index records_expires) so that
        // they neither take the write lock nor count as a commit in data_version().
        {
            Stmt any(impl_->db, "SELECT 1 FROM records WHERE expires <= ?1 LIMIT 1");
            any.i64(1, now);
            if (!any.step()) return hr::ok;
        }
        return impl_->write_tx([&] {
            Stmt s(impl_->db, (std::string("SELECT ") + kColumns + " FROM records WHERE expires <= ?1 ORDER BY created, id").c_str());
            s.i64(1, now);
            while (s.step()) result.push_back(read_row(s));
            Stmt d(impl_->db, "DELETE FROM records WHERE expires <= ?1");
            d.i64(1, now);
            d.step();
            return hr::ok;
        });
    });
    if (succeeded(h)) purged = std::move(result);
    return h;
}

Hr GroupDb::merge_record(const Record& r, bool& changed)
{
    if (failed(check_record(r))) return hr::invalid_record;
    bool result = false;
    Hr h = impl_->guarded([&] { return impl_->write_tx([&] { return impl_->merge_locked(r, result); }); });
    if (succeeded(h)) changed = result;
    return h;
}

std::uint64_t GroupDb::data_version()
{
    std::uint64_t v = 0;
    impl_->guarded([&] {
        // PRAGMA data_version moves for other connections' commits only; own_commits adds ours.
        v = static_cast<std::uint64_t>(pragma_int(impl_->db, "PRAGMA data_version")) + impl_->own_commits;
        return hr::ok;
    });
    return v;
}

Hr GroupDb::export_file(const std::string& path_utf8)
{
    if (path_utf8.empty()) return hr::invalid_arg;
    Bytes name_meta;
    Hr h = get_meta(kMetaGroupPeerName, name_meta);
    if (failed(h) && h != hr::not_found) return h;
    std::vector<Record> records;
    if (h = list_records(nullptr, true, records); failed(h)) return h;
    try {
        std::u16string group = utf16(std::string_view(reinterpret_cast<const char*>(name_meta.data()), name_meta.size()));
        Bytes file(kExportMagic, kExportMagic + sizeof kExportMagic);
        put_u32(file, kExportVersion);
        put_u32(file, static_cast<std::uint32_t>(group.size()));
        for (char16_t c : group) {
            file.push_back(static_cast<std::uint8_t>(c >> 8));
            file.push_back(static_cast<std::uint8_t>(c));
        }
        put_u32(file, static_cast<std::uint32_t>(records.size()));
        Bytes blob;
        for (const Record& r : records) {
            if (h = serialize_record(r, group, blob); failed(h)) return h;
            put_u32(file, r.flags);
            put_u32(file, static_cast<std::uint32_t>(blob.size()));
            file.insert(file.end(), blob.begin(), blob.end());
        }
        // Write a temporary file, then rename it over the target: a reader never sees half a file.
        fs::path target = to_path(path_utf8), tmp = to_path(path_utf8 + ".tmp");
        {
            std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
            f.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
            f.close();
            if (!f) {
                std::error_code ec;
                fs::remove(tmp, ec);
                return hr::database_accessdenied;
            }
        }
        std::error_code ec;
        fs::rename(tmp, target, ec);
        if (ec) {
            fs::remove(tmp, ec);
            return hr::database_accessdenied;
        }
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

Hr GroupDb::import_file(const std::string& path_utf8, std::vector<Record>& changed,
                        const std::function<Hr(const std::vector<Record>&)>& validate)
{
    if (path_utf8.empty()) return hr::invalid_arg;
    try {
        fs::path p = to_path(path_utf8);
        std::error_code ec;
        if (!fs::is_regular_file(p, ec)) return hr::file_not_found;
        auto size = fs::file_size(p, ec);
        if (ec) return hr::file_not_found;
        if (size > kMaxImportBytes) return hr::invalid_database;
        Bytes file(static_cast<std::size_t>(size));
        {
            std::ifstream f(p, std::ios::binary);
            f.read(reinterpret_cast<char*>(file.data()), static_cast<std::streamsize>(file.size()));
            if (!f || f.gcount() != static_cast<std::streamsize>(file.size())) return hr::invalid_database;
        }
        // Parse everything first: a malformed file changes nothing.
        Cursor c{ByteSpan(file)};
        ByteSpan magic;
        std::uint32_t version = 0, name_len = 0, count = 0;
        if (!c.take(sizeof kExportMagic, magic) || std::memcmp(magic.data(), kExportMagic, sizeof kExportMagic) != 0 ||
            !c.u32(version) || version != kExportVersion || !c.u32(name_len) || name_len > kMaxWireIdChars)
            return hr::invalid_database;
        ByteSpan name_bytes;
        if (!c.take(std::size_t{name_len} * 2, name_bytes)) return hr::invalid_database;
        std::u16string group(name_len, u'\0');
        for (std::size_t i = 0; i < name_len; ++i)
            group[i] = static_cast<char16_t>((name_bytes[2 * i] << 8) | name_bytes[2 * i + 1]);
        // Each record needs at least 8 bytes of framing: reject counts the file cannot hold.
        if (!c.u32(count) || count > (c.in.size() - c.pos) / 8) return hr::invalid_database;
        std::vector<Record> records;
        records.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            std::uint32_t flags = 0, len = 0;
            ByteSpan blob;
            if (!c.u32(flags) || !c.u32(len) || !c.take(len, blob)) return hr::invalid_database;
            Record r;
            std::u16string graph;
            if (failed(parse_record(blob, r, &graph)) || graph != group) return hr::invalid_database;
            // Local flags: AUTOREFRESH from the frame, Deleted as carried by the record itself.
            r.flags = (flags & ~kRecordFlagDeleted) | (r.flags & kRecordFlagDeleted);
            records.push_back(std::move(r));
        }
        if (c.pos != c.in.size()) return hr::invalid_database;

        Bytes own_name;
        Hr h = get_meta(kMetaGroupPeerName, own_name);
        if (failed(h) && h != hr::not_found) return h;
        if (utf16(std::string_view(reinterpret_cast<const char*>(own_name.data()), own_name.size())) != group)
            return hr::invalid_group;
        if (validate) {
            if (Hr v = validate(records); failed(v)) return v;
        }

        std::vector<Record> stored;
        h = impl_->guarded([&] {
            return impl_->write_tx([&] {
                for (const Record& r : records) {
                    bool did = false;
                    impl_->merge_locked(r, did);
                    if (did) stored.push_back(r);
                }
                return hr::ok;
            });
        });
        if (succeeded(h)) changed = std::move(stored);
        return h;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    }
}

}  // namespace pd::p2p
