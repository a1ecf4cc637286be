// SPDX-License-Identifier: MIT
#include "pd/cache/publications.hpp"

#include "common/sqlite.h"

#include "common/log.h"

#include <mutex>

namespace pd::cache {

using namespace pd::sql;

struct Publications::Impl {
    sqlite3* db = nullptr;
    Alive alive;
    std::mutex mutex;

    ~Impl()
    {
        if (db)
            sqlite3_close(db);
    }

    static Owner owner_of(Stmt& q, int first)
    {
        return {static_cast<std::uint32_t>(q.col_i64(first)), static_cast<std::uint64_t>(q.col_i64(first + 1)),
                static_cast<std::uint64_t>(q.col_i64(first + 2))};
    }
    static bool same_owner(const Owner& a, const Owner& b)
    {
        return a.pid == b.pid && a.start == b.start && a.instance == b.instance;
    }
};

Publications::Publications(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Publications::~Publications() = default;

std::shared_ptr<Publications> Publications::open(const std::filesystem::path& directory, Alive alive,
                                                 std::string* error)
{
    try {
        std::error_code ec;
        std::filesystem::create_directories(directory, ec);
        auto impl = std::make_unique<Impl>();
        impl->alive = std::move(alive);
        impl->db = open_db(directory / "publications.db");
        exec(impl->db, "PRAGMA journal_mode=WAL");
        exec(impl->db, "CREATE TABLE IF NOT EXISTS publications(user TEXT NOT NULL, id BLOB NOT NULL,"
                       " pid INTEGER NOT NULL, start INTEGER NOT NULL, instance INTEGER NOT NULL,"
                       " complete INTEGER NOT NULL DEFAULT 0, v1 BLOB, v2 BLOB, PRIMARY KEY(user, id))");
        return std::shared_ptr<Publications>(new Publications(std::move(impl)));
    } catch (const std::exception& e) {
        if (error)
            *error = e.what();
        return nullptr;
    }
}

bool Publications::add(const std::string& user, std::span<const std::uint8_t> id, const Owner& owner)
{
    auto& s = *impl_;
    std::lock_guard lock(s.mutex);
    exec(s.db, "BEGIN IMMEDIATE");
    try {
        Stmt q(s.db, "SELECT pid, start, instance FROM publications WHERE user = ?1 AND id = ?2");
        sqlite3_bind_text(q.get(), 1, user.c_str(), -1, SQLITE_TRANSIENT);
        q.blob(2, id);
        if (q.step() && s.alive(Impl::owner_of(q, 0))) {
            exec(s.db, "ROLLBACK");
            return false;
        }
        q.reset();
        Stmt ins(s.db, "INSERT OR REPLACE INTO publications(user, id, pid, start, instance) VALUES(?1, ?2, ?3, ?4, ?5)");
        sqlite3_bind_text(ins.get(), 1, user.c_str(), -1, SQLITE_TRANSIENT);
        ins.blob(2, id).i64(3, owner.pid).i64(4, static_cast<std::int64_t>(owner.start))
            .i64(5, static_cast<std::int64_t>(owner.instance));
        ins.step();
        exec(s.db, "COMMIT");
        return true;
    } catch (...) {
        sqlite3_exec(s.db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

void Publications::complete(const std::string& user, std::span<const std::uint8_t> id, const Owner& owner,
                            std::span<const std::uint8_t> v1, std::span<const std::uint8_t> v2)
{
    auto& s = *impl_;
    std::lock_guard lock(s.mutex);
    Stmt u(s.db, "UPDATE publications SET complete = 1, v1 = ?6, v2 = ?7"
                 " WHERE user = ?1 AND id = ?2 AND pid = ?3 AND start = ?4 AND instance = ?5");
    sqlite3_bind_text(u.get(), 1, user.c_str(), -1, SQLITE_TRANSIENT);
    u.blob(2, id).i64(3, owner.pid).i64(4, static_cast<std::int64_t>(owner.start))
        .i64(5, static_cast<std::int64_t>(owner.instance)).blob(6, v1).blob(7, v2);
    u.step();
}

std::optional<Publications::Found> Publications::find(const std::string& user, std::span<const std::uint8_t> id)
{
    auto& s = *impl_;
    std::lock_guard lock(s.mutex);
    Stmt q(s.db, "SELECT pid, start, instance, complete, v1, v2 FROM publications WHERE user = ?1 AND id = ?2");
    sqlite3_bind_text(q.get(), 1, user.c_str(), -1, SQLITE_TRANSIENT);
    q.blob(2, id);
    if (!q.step())
        return std::nullopt;
    Found f;
    f.owner = Impl::owner_of(q, 0);
    if (!s.alive(f.owner))
        return std::nullopt;
    f.complete = q.col_i64(3) != 0;
    auto v1 = q.col_blob(4), v2 = q.col_blob(5);
    f.v1.assign(v1.begin(), v1.end());
    f.v2.assign(v2.begin(), v2.end());
    return f;
}

bool Publications::remove(const std::string& user, std::span<const std::uint8_t> id, const Owner& owner)
{
    auto& s = *impl_;
    std::lock_guard lock(s.mutex);
    Stmt d(s.db, "DELETE FROM publications WHERE user = ?1 AND id = ?2 AND pid = ?3 AND start = ?4 AND instance = ?5");
    sqlite3_bind_text(d.get(), 1, user.c_str(), -1, SQLITE_TRANSIENT);
    d.blob(2, id).i64(3, owner.pid).i64(4, static_cast<std::int64_t>(owner.start))
        .i64(5, static_cast<std::int64_t>(owner.instance));
    d.step();
    return sqlite3_changes(s.db) > 0;
}

void Publications::remove_all(const Owner& owner)
{
    auto& s = *impl_;
    std::lock_guard lock(s.mutex);
    Stmt d(s.db, "DELETE FROM publications WHERE pid = ?1 AND start = ?2 AND instance = ?3");
    d.i64(1, owner.pid).i64(2, static_cast<std::int64_t>(owner.start)).i64(3, static_cast<std::int64_t>(owner.instance));
    d.step();
}

} // namespace pd::cache
