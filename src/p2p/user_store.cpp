#include "pd/p2p/user_store.hpp"

#include "common/sqlite.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#ifdef _WIN32
#include <windows.h>
#include <wincrypt.h>
#include <shlobj.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace fs = std::filesystem;
namespace sql = pd::sql;

namespace pd::p2p {

namespace {

std::string hex_sha1(std::u16string_view s)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(s.data(), s.size() * sizeof(char16_t), md, &len, EVP_sha1(), nullptr);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out.push_back(digits[md[i] >> 4]);
        out.push_back(digits[md[i] & 15]);
    }
    return out;
}

sql::Bytes u16bytes(std::u16string_view s)
{
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size() * sizeof(char16_t)};
}

std::u16string col_u16(const sql::Stmt& st, int i)
{
    auto b = st.col_blob(i);
    std::u16string s(b.size() / 2, u'\0');
    if (!s.empty())
        std::memcpy(s.data(), b.data(), s.size() * 2);
    return s;
}

Bytes col_bytes(const sql::Stmt& st, int i)
{
    auto b = st.col_blob(i);
    return Bytes(b.begin(), b.end());
}

#ifdef _WIN32
class DpapiProtector final : public KeyProtector {
public:
    Hr protect(const Bytes& clear, Bytes& sealed) override
    {
        DATA_BLOB in{static_cast<DWORD>(clear.size()), const_cast<BYTE*>(clear.data())};
        DATA_BLOB out{};
        if (!CryptProtectData(&in, L"OpenP2P identity key", nullptr, nullptr, nullptr,
                              CRYPTPROTECT_UI_FORBIDDEN, &out))
            return hr::no_key_access;
        sealed.assign(out.pbData, out.pbData + out.cbData);
        LocalFree(out.pbData);
        return hr::ok;
    }
    Hr unprotect(const Bytes& sealed, Bytes& clear) override
    {
        DATA_BLOB in{static_cast<DWORD>(sealed.size()), const_cast<BYTE*>(sealed.data())};
        DATA_BLOB out{};
        if (!CryptUnprotectData(&in, nullptr, nullptr, nullptr, nullptr, CRYPTPROTECT_UI_FORBIDDEN, &out))
            return hr::no_key_access;
        clear.assign(out.pbData, out.pbData + out.cbData);
        SecureZeroMemory(out.pbData, out.cbData);
        LocalFree(out.pbData);
        return hr::ok;
    }
};
#endif

// Native protector: AES-256-GCM under a random key kept in <dir>/.keyfile (0600), like an SSH
// private key file. Sealed layout: nonce(12) || ciphertext || tag(16).
class FileKeyProtector final : public KeyProtector {
public:
    explicit FileKeyProtector(std::string dir) : path_(fs::path(dir) / ".keyfile") {}

    Hr protect(const Bytes& clear, Bytes& sealed) override
    {
        std::uint8_t key[32];
        if (!load_key(key, true))
            return hr::no_key_access;
        std::uint8_t nonce[12];
        RAND_bytes(nonce, sizeof nonce);
        Bytes out(12 + clear.size() + 16);
        std::memcpy(out.data(), nonce, 12);
        EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
        int len = 0, total = 0;
        bool ok = ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, nonce) == 1 &&
                  EVP_EncryptUpdate(ctx, out.data() + 12, &len, clear.data(), static_cast<int>(clear.size())) == 1;
        total = len;
        ok = ok && EVP_EncryptFinal_ex(ctx, out.data() + 12 + total, &len) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.data() + 12 + clear.size()) == 1;
        EVP_CIPHER_CTX_free(ctx);
        OPENSSL_cleanse(key, sizeof key);
        if (!ok)
            return hr::no_key_access;
        sealed = std::move(out);
        return hr::ok;
    }

    Hr unprotect(const Bytes& sealed, Bytes& clear) override
    {
        if (sealed.size() < 28)
            return hr::no_key_access;
        std::uint8_t key[32];
        if (!load_key(key, false))
            return hr::no_key_access;
        size_t n = sealed.size() - 28;
        Bytes out(n);
        EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
        int len = 0;
        std::uint8_t tag[16];
        std::memcpy(tag, sealed.data() + 12 + n, 16);
        bool ok = ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, sealed.data()) == 1 &&
                  EVP_DecryptUpdate(ctx, out.data(), &len, sealed.data() + 12, static_cast<int>(n)) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
                  EVP_DecryptFinal_ex(ctx, out.data() + len, &len) == 1;
        EVP_CIPHER_CTX_free(ctx);
        OPENSSL_cleanse(key, sizeof key);
        if (!ok)
            return hr::no_key_access;
        clear = std::move(out);
        return hr::ok;
    }

private:
    bool load_key(std::uint8_t key[32], bool create)
    {
        std::lock_guard lock(mutex_);
        std::ifstream in(path_, std::ios::binary);
        if (in.read(reinterpret_cast<char*>(key), 32) && in.gcount() == 32)
            return true;
        if (!create)
            return false;
        RAND_bytes(key, 32);
#ifndef _WIN32
        // O_EXCL: if another process created the file first, use its key.
        int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) {
            std::ifstream again(path_, std::ios::binary);
            return again.read(reinterpret_cast<char*>(key), 32) && again.gcount() == 32;
        }
        bool ok = ::write(fd, key, 32) == 32;
        ::close(fd);
        return ok;
#else
        std::ofstream out(path_, std::ios::binary);
        out.write(reinterpret_cast<const char*>(key), 32);
        return static_cast<bool>(out);
#endif
    }

    fs::path path_;
    std::mutex mutex_;
};

}  // namespace

std::unique_ptr<KeyProtector> KeyProtector::platform(const std::string& dir)
{
#ifdef _WIN32
    (void)dir;
    return std::make_unique<DpapiProtector>();
#else
    return std::make_unique<FileKeyProtector>(dir);
#endif
}

std::string user_store_dir()
{
    fs::path dir;
#ifdef _WIN32
    wchar_t buf[32768];
    DWORD n = GetEnvironmentVariableW(L"OPENP2P_DIR", buf, 32768);
    if (n > 0 && n < 32768) {
        dir = fs::path(buf);
    } else {
        wchar_t appdata[MAX_PATH];
        if (FAILED(SHGetFolderPathW(nullptr, CSIDL_APPDATA | CSIDL_FLAG_CREATE, nullptr, 0, appdata)))
            return {};
        dir = fs::path(appdata) / L"OpenP2P";
    }
#else
    if (const char* e = std::getenv("OPENP2P_DIR"); e && *e)
        dir = e;
    else if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
        dir = fs::path(x) / "openp2p";
    else if (const char* h = std::getenv("HOME"); h && *h)
        dir = fs::path(h) / ".local" / "share" / "openp2p";
    else
        return {};
#endif
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!fs::is_directory(dir, ec))
        return {};
    auto u8 = dir.u8string();
    return std::string(reinterpret_cast<const char*>(u8.data()), u8.size());
}

struct UserStore::Impl {
    sqlite3* db = nullptr;
    ~Impl() { sqlite3_close(db); }
};

UserStore::~UserStore() = default;

Hr UserStore::open(const std::string& dir, std::shared_ptr<UserStore>& out)
{
    try {
        std::shared_ptr<UserStore> s(new UserStore());
        s->dir_ = dir;
        s->impl_ = std::make_unique<Impl>();
        fs::path base = fs::u8path(dir);
        fs::create_directories(base / "groups");
        s->impl_->db = sql::open_db(base / "identities.db");
        sqlite3* db = s->impl_->db;
        sql::exec(db, "PRAGMA journal_mode=WAL");
        sql::exec(db,
                  "CREATE TABLE IF NOT EXISTS identity("
                  " name BLOB PRIMARY KEY, classifier BLOB NOT NULL, friendly BLOB NOT NULL,"
                  " cert BLOB NOT NULL, sealed_key BLOB NOT NULL, created INTEGER NOT NULL,"
                  " is_default INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL);"
                  "CREATE TABLE IF NOT EXISTS grp("
                  " identity BLOB NOT NULL REFERENCES identity(name) ON DELETE CASCADE,"
                  " name BLOB NOT NULL, friendly BLOB NOT NULL, path TEXT NOT NULL,"
                  " PRIMARY KEY(identity, name));");
        s->protector_ = KeyProtector::platform(dir);
        out = std::move(s);
        return hr::ok;
    } catch (const std::bad_alloc&) {
        return hr::out_of_memory;
    } catch (const std::exception&) {
        return hr::dbinitialization_failed;
    }
}

Hr UserStore::current(std::shared_ptr<UserStore>& out)
{
    std::string dir = user_store_dir();
    if (dir.empty())
        return hr::dbinitialization_failed;
    // One store (one connection) per directory, kept for the life of the process.
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<UserStore>> stores;
    std::lock_guard lock(mutex);
    auto& s = stores[dir];
    // The directory may have been deleted under us (tests remove their stores): reopen then.
    std::error_code ec;
    if (!s || !fs::exists(fs::u8path(dir) / "identities.db", ec)) {
        std::shared_ptr<UserStore> fresh;
        if (Hr h = open(dir, fresh); failed(h))
            return h;
        s = std::move(fresh);
    }
    out = s;
    return hr::ok;
}

#define PD_STORE_TRY try {
#define PD_STORE_CATCH                       \
    }                                        \
    catch (const std::bad_alloc&)            \
    {                                        \
        return hr::out_of_memory;            \
    }                                        \
    catch (const std::exception&)            \
    {                                        \
        return hr::database_accessdenied;    \
    }

Hr UserStore::add_identity(const IdentityRow& r)
{
    std::lock_guard lock(mutex_);
    PD_STORE_TRY
    sqlite3* db = impl_->db;
    sql::exec(db, "BEGIN IMMEDIATE");
    try {
        sql::Stmt q(db, "SELECT 1 FROM identity WHERE name=?");
        q.blob(1, u16bytes(r.peer_name));
        if (q.step()) {
            sql::exec(db, "ROLLBACK");
            return hr::already_exists;
        }
        if (r.is_default)
            sql::exec(db, "UPDATE identity SET is_default=0");
        sql::Stmt ins(db, "INSERT INTO identity(name,classifier,friendly,cert,sealed_key,created,is_default,seq)"
                          " VALUES(?,?,?,?,?,?,?,(SELECT IFNULL(MAX(seq),0)+1 FROM identity))");
        ins.blob(1, u16bytes(r.peer_name)).blob(2, u16bytes(r.classifier)).blob(3, u16bytes(r.friendly_name));
        ins.blob(4, r.cert).blob(5, r.sealed_key).i64(6, r.created).i64(7, r.is_default ? 1 : 0);
        ins.step();
        sql::exec(db, "COMMIT");
    } catch (...) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
    return hr::ok;
    PD_STORE_CATCH
}

static void read_identity(const sql::Stmt& q, IdentityRow& r)
{
    r.peer_name = col_u16(q, 0);
    r.classifier = col_u16(q, 1);
    r.friendly_name = col_u16(q, 2);
    r.cert = col_bytes(q, 3);
    r.sealed_key = col_bytes(q, 4);
    r.created = q.col_i64(5);
    r.is_default = q.col_i64(6) != 0;
}

#define PD_IDENTITY_COLUMNS "name,classifier,friendly,cert,sealed_key,created,is_default"

Hr UserStore::get_identity(std::u16string_view name, IdentityRow& r)
{
    std::lock_guard lock(mutex_);
    PD_STORE_TRY
    sql::Stmt q(impl_->db, "SELECT " PD_IDENTITY_COLUMNS " FROM identity WHERE name=?");
    q.blob(1, u16bytes(name));
    if (!q.step())
        return hr::not_found;
    read_identity(q, r);
    return hr::ok;
    PD_STORE_CATCH
}

Hr UserStore::list_identities(std::vector<IdentityRow>& rows)
{
    std::lock_guard lock(mutex_);
    PD_STORE_TRY
    rows.clear();
    sql::Stmt q(impl_->db, "SELECT " PD_IDENTITY_COLUMNS " FROM identity ORDER BY seq");
    while (q.step()) {
        IdentityRow r;
        read_identity(q, r);
        rows.push_back(std::move(r));
    }
    return hr::ok;
    PD_STORE_CATCH
}

Hr UserStore::count_identities(size_t& count)
{
    std::lock_guard lock(mutex_);
    PD_STORE_TRY
    sql::Stmt q(impl_->db, "SELECT COUNT(*) FROM identity");
    count = q.step() ? static_cast<size_t>(q.col_i64(0)) : 0;
    return hr::ok;
    PD_STORE_CATCH
}

Hr UserStore::default_identity(std::optional<IdentityRow>& row)
{
    std::lock_guard lock(mutex_);
    PD_STORE_TRY
    row.reset();
    sql::Stmt q(impl_->db, "SELECT " PD_IDENTITY_COLUMNS " FROM identity WHERE is_default=1 LIMIT 1");
    if (q.step()) {
        IdentityRow r;
        read_identity(q, r);
        row = std::move(r);
    }
    return hr::ok;
    PD_STORE_CATCH
}

Hr UserStore::set_friendly_name(std::u16string_view name, std::u16string_view friendly)
{
    std::lock_guard lock(mutex_);
    PD_STORE_TRY
    sql::Stmt q(impl_->db, "UPDATE identity SET friendly=? WHERE name=?");
    q.blob(1, u16bytes(friendly)).blob(2, u16bytes(name));
    q.step();
    return sqlite3_changes(impl_->db) ? hr::ok : hr::not_found;
    PD_STORE_CATCH
}

Hr UserStore::delete_identity(std::u16string_view name, std::vector<GroupRow>& groups)
{
    std::lock_guard lock(mutex_);
    PD_STORE_TRY
    sqlite3* db = impl_->db;
    sql::exec(db, "BEGIN IMMEDIATE");
    try {
        groups.clear();
        sql::Stmt g(db, "SELECT identity,name,friendly,path FROM grp WHERE identity=?");
        g.blob(1, u16bytes(name));
        while (g.step())
            groups.push_back({col_u16(g, 0), col_u16(g, 1), col_u16(g, 2),
                              reinterpret_cast<const char*>(sqlite3_column_text(g.get(), 3))});
        sql::Stmt dg(db, "DELETE FROM grp WHERE identity=?");
        dg.blob(1, u16bytes(name));
        dg.step();
        sql::Stmt di(db, "DELETE FROM identity WHERE name=?");
        di.blob(1, u16bytes(name));
        di.step();
        bool found = sqlite3_changes(db) != 0;
        sql::exec(db, "COMMIT");
        return found ? hr::ok : hr::not_found;
    } catch (...) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
    PD_STORE_CATCH
}

Hr UserStore::add_group(const GroupRow& r, bool overwrite)
{
    std::lock_guard lock(mutex_);
    PD_STORE_TRY
    sql::Stmt q(impl_->db, overwrite ? "INSERT OR REPLACE INTO grp(identity,name,friendly,path) VALUES(?,?,?,?)"
                                     : "INSERT OR IGNORE INTO grp(identity,name,friendly,path) VALUES(?,?,?,?)");
    q.blob(1, u16bytes(r.identity)).blob(2, u16bytes(r.group)).blob(3, u16bytes(r.friendly_name));
    sqlite3_bind_text(q.get(), 4, r.path.c_str(), static_cast<int>(r.path.size()), SQLITE_STATIC);
    q.step();
    return sqlite3_changes(impl_->db) ? hr::ok : hr::already_exists;
    PD_STORE_CATCH
}

Hr UserStore::get_group(std::u16string_view identity, std::u16string_view group, GroupRow& r)
{
    std::lock_guard lock(mutex_);
    PD_STORE_TRY
    sql::Stmt q(impl_->db, "SELECT identity,name,friendly,path FROM grp WHERE identity=? AND name=?");
    q.blob(1, u16bytes(identity)).blob(2, u16bytes(group));
    if (!q.step())
        return hr::not_found;
    r = {col_u16(q, 0), col_u16(q, 1), col_u16(q, 2), reinterpret_cast<const char*>(sqlite3_column_text(q.get(), 3))};
    return hr::ok;
    PD_STORE_CATCH
}

Hr UserStore::list_groups(std::u16string_view identity, std::vector<GroupRow>& rows)
{
    std::lock_guard lock(mutex_);
    PD_STORE_TRY
    rows.clear();
    sql::Stmt q(impl_->db, "SELECT identity,name,friendly,path FROM grp WHERE identity=? ORDER BY rowid");
    q.blob(1, u16bytes(identity));
    while (q.step())
        rows.push_back({col_u16(q, 0), col_u16(q, 1), col_u16(q, 2),
                        reinterpret_cast<const char*>(sqlite3_column_text(q.get(), 3))});
    return hr::ok;
    PD_STORE_CATCH
}

Hr UserStore::set_group_friendly_name(std::u16string_view identity, std::u16string_view group,
                                      std::u16string_view friendly)
{
    std::lock_guard lock(mutex_);
    PD_STORE_TRY
    sql::Stmt q(impl_->db, "UPDATE grp SET friendly=? WHERE identity=? AND name=?");
    q.blob(1, u16bytes(friendly)).blob(2, u16bytes(identity)).blob(3, u16bytes(group));
    q.step();
    return sqlite3_changes(impl_->db) ? hr::ok : hr::not_found;
    PD_STORE_CATCH
}

Hr UserStore::delete_group(std::u16string_view identity, std::u16string_view group)
{
    std::lock_guard lock(mutex_);
    PD_STORE_TRY
    sql::Stmt q(impl_->db, "DELETE FROM grp WHERE identity=? AND name=?");
    q.blob(1, u16bytes(identity)).blob(2, u16bytes(group));
    q.step();
    return sqlite3_changes(impl_->db) ? hr::ok : hr::not_found;
    PD_STORE_CATCH
}

std::string UserStore::group_path(std::u16string_view identity, std::u16string_view group) const
{
    fs::path p = fs::u8path(dir_) / "groups" / hex_sha1(identity) / (hex_sha1(group) + ".db");
    auto u8 = p.u8string();
    return std::string(reinterpret_cast<const char*>(u8.data()), u8.size());
}

}  // namespace pd::p2p
