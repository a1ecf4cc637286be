// SPDX-License-Identifier: MIT
//
// Small helpers over the SQLite C API shared by the engine's databases (the PeerDist cache and
// publications in cache/, the P2P store and group databases in src/p2p/).
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

namespace pd::sql {

using Bytes = std::span<const std::uint8_t>;
constexpr int kBusyTimeoutMs = 30000; // another process holding the write lock

class SqliteError : public std::runtime_error {
public:
    explicit SqliteError(const std::string& what, int code = SQLITE_ERROR) : std::runtime_error(what), code_(code) {}
    // The (extended) SQLite result code.
    int code() const { return code_; }
    // The file is damaged or is not a database: only rebuilding it helps.
    bool corrupt() const
    {
        int primary = code_ & 0xff;
        return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
    }

private:
    int code_;
};

[[noreturn]] inline void fail(sqlite3* db, const char* what)
{
    throw SqliteError(std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory"),
                      db ? sqlite3_extended_errcode(db) : SQLITE_NOMEM);
}

inline void exec(sqlite3* db, const char* sql)
{
    char* msg = nullptr;
    if (int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg); rc != SQLITE_OK) {
        std::string text = msg ? msg : sqlite3_errmsg(db);
        sqlite3_free(msg);
        throw SqliteError(std::string(sql).substr(0, 60) + ": " + text, sqlite3_extended_errcode(db));
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

inline bool same(Bytes a, Bytes b) { return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin()); }

// Opens (creating) a database. `mmap`: memory-mapped reads of the database file; off for a file
// that another party might truncate under us (a mapped read past the end faults instead of failing).
inline sqlite3* open_db(const std::filesystem::path& file, bool mmap = true)
{
    sqlite3* db = nullptr;
    auto name = file.u8string();
    int rc = sqlite3_open_v2(reinterpret_cast<const char*>(name.c_str()), &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        throw SqliteError("cannot open " + std::string(reinterpret_cast<const char*>(name.c_str())) + ": " + msg, rc);
    }
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    sqlite3_extended_result_codes(db, 1);
    // Memory-mapped reads of the database pages (fewer system calls per lookup).
    if (mmap)
        exec(db, "PRAGMA mmap_size=1073741824");
    exec(db, "PRAGMA foreign_keys=ON");
    return db;
}


} // namespace pd::sql
