// PeerDist server side (publishing): PeerDistServerPublishStream, ...AddToStream,
// ...CompleteStream, ...CloseStreamHandle, ...Unpublish, ...OpenContentInformation(Ex),
// ...RetrieveContentInformation, ...CloseContentInformation, ...CancelAsyncOperation.
//
// A publication is hashed while the app streams it (V1 SHA-256 and V2 content information at once,
// pd::pccrc generators on the runtime thread); the content itself is not kept. Content information
// for a range is cut from the whole-content CI (pd::pccrc::slice). Publications live in this
// process, keyed by content identifier, and are removed by Unpublish or by the owning instance's
// PeerDistShutdown.
#include "server.h"

#include "abi.h"
#include "instance.h"

#include "read_path.h"

#include "pd/cache/publications.hpp"
#include "pd/pccrc/generator.hpp"
#include "pd/pccrc/slice.hpp"

#include <boost/asio/post.hpp>

#include <cstring>
#include <filesystem>
#include <map>
#include <sddl.h>
#include <span>

namespace pd::peerdist {
namespace {

namespace pccrc = pd::pccrc;

// The machine's server secret: %ProgramData%\OpenPeerDist\secret.key, created at random on first
// use with owner-only permissions ([MS-PCCRC] 1.3: Windows also makes a random key when none is
// configured).
const pccrc::ServerSecret* server_secret()
{
    static std::mutex mutex;
    static std::optional<pccrc::ServerSecret> secret;
    std::lock_guard lock(mutex);
    if (!secret) {
        wchar_t dir[MAX_PATH];
        DWORD n = GetEnvironmentVariableW(L"ProgramData", dir, MAX_PATH);
        std::filesystem::path base = (n && n < MAX_PATH) ? std::filesystem::path(dir) : std::filesystem::temp_directory_path();
        std::error_code ec;
        std::filesystem::create_directories(base / L"OpenPeerDist", ec);
        auto loaded = pccrc::ServerSecret::load_or_create(base / L"OpenPeerDist" / L"secret.key");
        if (!loaded) {
            PD_ERROR("server secret: {}", loaded.status().message());
            return nullptr;
        }
        secret = std::move(loaded.value());
    }
    return &*secret;
}

// The caller's user SID ("S-1-5-..."): thread token if impersonating, else the process token.
std::string current_user()
{
    HANDLE token = nullptr;
    if (!OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, TRUE, &token) &&
        !OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return "unknown";
    alignas(TOKEN_USER) BYTE buf[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
    DWORD size = 0;
    std::string user = "unknown";
    if (GetTokenInformation(token, TokenUser, buf, sizeof buf, &size)) {
        LPSTR text = nullptr;
        if (ConvertSidToStringSidA(reinterpret_cast<TOKEN_USER*>(buf)->User.Sid, &text)) {
            user = text;
            LocalFree(text);
        }
    }
    CloseHandle(token);
    return user;
}

std::uint64_t process_start(HANDLE process)
{
    FILETIME created, exited, kernel, user;
    if (!GetProcessTimes(process, &created, &exited, &kernel, &user))
        return 0;
    return (std::uint64_t{created.dwHighDateTime} << 32) | created.dwLowDateTime;
}

pd::cache::Owner owner_of(std::uint64_t instance)
{
    static const std::uint64_t start = process_start(GetCurrentProcess());
    return {GetCurrentProcessId(), start, instance};
}

// A publication's owner still exists: its instance in this process, or its process elsewhere.
bool owner_alive(const pd::cache::Owner& o)
{
    if (o.pid == GetCurrentProcessId())
        return o.start == owner_of(0).start && lookup_instance(to_handle(o.instance)) != nullptr;
    HANDLE p = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, o.pid);
    if (!p)
        return false;
    DWORD code = 0;
    bool alive = GetExitCodeProcess(p, &code) && code == STILL_ACTIVE && process_start(p) == o.start;
    CloseHandle(p);
    return alive;
}

// The machine's publication registry, in the cache directory; nullptr if it cannot be opened
// (publications then stay in this process).
std::shared_ptr<pd::cache::Publications> registry()
{
    static std::mutex mutex;
    static std::map<std::filesystem::path, std::shared_ptr<pd::cache::Publications>> open;
    auto dir = pd::cache::default_config().directory;
    std::lock_guard lock(mutex);
    auto& slot = open[dir];
    if (!slot) {
        std::string error;
        slot = pd::cache::Publications::open(dir, owner_alive, &error);
        if (!slot)
            PD_ERROR("publications: cannot open {}: {}", dir.string(), error);
    }
    return slot;
}

struct Publication {
    std::string user;
    std::vector<BYTE> id;
    std::shared_ptr<pd::cache::Publications> registry;
    std::uint64_t owner = 0;           // instance handle value
    std::uint64_t declared_length = 0; // 0 = unknown
    bool complete = false;
    std::optional<pccrc::ContentInfo> v1, v2;
};

// This process's publications by (user, content identifier).
using PubKey = std::pair<std::string, std::vector<BYTE>>;
std::mutex g_pub_mutex;
std::map<PubKey, std::shared_ptr<Publication>> g_publications;

std::shared_ptr<Publication> find_publication(const PubKey& key)
{
    std::lock_guard lock(g_pub_mutex);
    auto it = g_publications.find(key);
    return it == g_publications.end() ? nullptr : it->second;
}

struct Stream {
    std::uint64_t owner = 0;
    std::shared_ptr<Publication> pub;
    CompletionPort port;
    std::mutex mutex;                     // guards everything below
    std::optional<pccrc::Generator> gen1, gen2;
    std::uint64_t added = 0;              // bytes accepted so far (AddToStream calls issued)
    bool completing = false;              // CompleteStream issued
    std::shared_ptr<Operation> pending;   // at most one outstanding operation
    DWORD pending_bytes = 0;              // its byte count (AddToStream), rolled back on cancel
};

struct ContentInfoHandle {
    std::uint64_t owner = 0;
    std::vector<BYTE> id;
    std::vector<std::uint8_t> bytes;
    std::uint64_t position = 0;
    CompletionPort port;
    std::mutex mutex;
};

std::vector<BYTE> make_id(DWORD cb, PBYTE p) { return std::vector<BYTE>(p, p + cb); }

bool offsets_zero(const OVERLAPPED* ov) { return ov->Offset == 0 && ov->OffsetHigh == 0; }

std::shared_ptr<Stream> lookup_stream(PEERDIST_INSTANCE_HANDLE h, PEERDIST_STREAM_HANDLE s)
{
    auto stream = handles().lookup<Stream>(handle_value(s), kStream);
    return stream && stream->owner == handle_value(h) ? stream : nullptr;
}

std::shared_ptr<ContentInfoHandle> lookup_ci(PEERDIST_INSTANCE_HANDLE h, PEERDIST_CONTENTINFO_HANDLE c)
{
    auto ci = handles().lookup<ContentInfoHandle>(handle_value(c), kContentInfo);
    return ci && ci->owner == handle_value(h) ? ci : nullptr;
}

// Checks shared by the asynchronous stream calls (AddToStream, CompleteStream): the instance, a
// stream of that instance, an OVERLAPPED whose Offset fields are 0, the policy. 0 when all pass.
DWORD check_stream_call(PEERDIST_INSTANCE_HANDLE h, PEERDIST_STREAM_HANDLE s, OVERLAPPED* ov,
                        std::shared_ptr<Instance>& inst, std::shared_ptr<Stream>& stream)
{
    inst = lookup_instance(h);
    if (!inst)
        return ERROR_INVALID_HANDLE;
    stream = lookup_stream(h, s);
    if (!stream)
        return ERROR_INVALID_HANDLE;
    if (!ov || !offsets_zero(ov))
        return ERROR_INVALID_PARAMETER;
    if (current_status() == PEERDIST_STATUS_DISABLED)
        return ERROR_ACCESS_DISABLED_BY_POLICY;
    return ERROR_SUCCESS;
}

// Cancels the stream's pending operation if it is `ov` (or any, when ov is null) and has not begun:
// its effects are rolled back (a cancelled AddToStream added nothing, a cancelled CompleteStream
// did not complete). Returns the operation, claimed, for the caller to finish() outside the lock;
// nullptr if there was nothing cancellable (none pending, or the worker already began).
std::shared_ptr<Operation> cancel_pending(Stream& s, OVERLAPPED* ov)
{
    std::lock_guard lock(s.mutex);
    if (!s.pending || (ov && s.pending->overlapped() != ov) || !s.pending->claim())
        return nullptr;
    if (s.pending_bytes)
        s.added -= s.pending_bytes;
    else
        s.completing = false;
    s.pending_bytes = 0;
    return std::move(s.pending);
}

// Runs a stream operation (hashing) on the runtime's worker pool, which is drained even by the
// last PeerDistShutdown, so the operation always completes. If it was cancelled before it began,
// the work is skipped (the caller's buffer is not touched).
template <typename Work>
void run_stream_op(Runtime& rt, std::shared_ptr<Stream> stream, std::shared_ptr<Operation> op, Work work)
{
    boost::asio::post(rt.work(), [stream = std::move(stream), op = std::move(op), work = std::move(work)]() mutable {
        if (!op->claim())
            return; // cancelled: nothing was consumed
        DWORD error = ERROR_SUCCESS, bytes = 0;
        try {
            std::tie(error, bytes) = work(*stream);
        } catch (...) {
            error = ERROR_INTERNAL_ERROR;
        }
        {
            std::lock_guard lock(stream->mutex);
            if (stream->pending == op) {
                stream->pending.reset();
                stream->pending_bytes = 0;
            }
        }
        op->finish(error, bytes);
    });
}

DWORD open_content_information(PEERDIST_INSTANCE_HANDLE h, DWORD cbId, PBYTE pId, ULONGLONG offset, ULONGLONG length,
                               pccrc::Version version, HANDLE port, ULONG_PTR key, PPEERDIST_CONTENTINFO_HANDLE out)
{
    if (!lookup_instance(h))
        return ERROR_INVALID_HANDLE;
    if (!cbId || !pId || !out)
        return ERROR_INVALID_PARAMETER;
    if (current_status() == PEERDIST_STATUS_DISABLED)
        return ERROR_ACCESS_DISABLED_BY_POLICY;
    PubKey pub_key{current_user(), make_id(cbId, pId)};
    auto pub = find_publication(pub_key);
    std::optional<pccrc::ContentInfo> whole;
    if (pub) {
        std::lock_guard lock(g_pub_mutex);
        if (pub->complete)
            whole = version == pccrc::Version::kV2 ? pub->v2 : pub->v1;
    } else if (auto reg = registry()) {
        // Published by another process of this user.
        auto found = reg->find(pub_key.first, pub_key.second);
        if (found && found->complete) {
            auto parsed = pccrc::parse(version == pccrc::Version::kV2 ? found->v2 : found->v1);
            if (parsed)
                whole = std::move(parsed.value());
        }
    }
    if (!whole)
        return ERROR_NOT_FOUND; // not published, or its stream is not complete yet
    std::uint64_t size = whole->range.end;
    pccrc::ByteRange range{0, size};
    if (offset != 0 || length != 0) {
        if (length == 0 || offset >= size || length > size - offset)
            return ERROR_INVALID_PARAMETER;
        range = {offset, offset + length};
    }
    auto cut = pccrc::slice(*whole, range);
    if (!cut)
        return cut.code();
    auto bytes = pccrc::serialize(cut.value());
    if (!bytes)
        return bytes.code();
    auto ci = std::make_shared<ContentInfoHandle>();
    ci->owner = handle_value(h);
    ci->id = make_id(cbId, pId);
    ci->bytes = std::move(bytes.value());
    ci->port = {port, key};
    std::uint64_t value = handles().insert(kContentInfo, ci);
    if (!value)
        return ERROR_NOT_ENOUGH_MEMORY;
    *out = to_handle(value);
    return ERROR_SUCCESS;
}

} // namespace

void server_shutdown(std::uint64_t instance)
{
    // Streams and content-information handles of the instance: closed, pending work aborted.
    auto aborted = close_owned<Stream>(kStream, instance, [](Stream& s) {
        auto op = cancel_pending(s, nullptr);
        return op ? std::vector{op} : std::vector<std::shared_ptr<Operation>>{};
    });
    close_owned<ContentInfoHandle>(kContentInfo, instance,
                                   [](ContentInfoHandle&) { return std::vector<std::shared_ptr<Operation>>{}; });
    {
        std::lock_guard lock(g_pub_mutex);
        for (auto it = g_publications.begin(); it != g_publications.end();)
            it = it->second->owner == instance ? g_publications.erase(it) : std::next(it);
    }
    if (auto reg = registry())
        reg->remove_all(owner_of(instance));
    for (auto& op : aborted)
        op->finish(ERROR_OPERATION_ABORTED, 0);
}

} // namespace pd::peerdist

using namespace pd::peerdist;
namespace pccrc = pd::pccrc;

extern "C" {

DWORD WINAPI PeerDistServerPublishStream(PEERDIST_INSTANCE_HANDLE hPeerDist, DWORD cbContentIdentifier,
                                         PBYTE pContentIdentifier, ULONGLONG cbContentLength,
                                         PCPEERDIST_PUBLICATION_OPTIONS pPublishOptions, HANDLE hCompletionPort,
                                         ULONG_PTR ulCompletionKey, PPEERDIST_STREAM_HANDLE phStream)
{
    PD_TRACE("PeerDistServerPublishStream({}, {}, {}, {}, {}, {}, {:#x}, {})", static_cast<void*>(hPeerDist),
             cbContentIdentifier, static_cast<void*>(pContentIdentifier), cbContentLength,
             static_cast<const void*>(pPublishOptions), static_cast<void*>(hCompletionPort), ulCompletionKey,
             static_cast<void*>(phStream));
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist))
            return ERROR_INVALID_HANDLE;
        if (!cbContentIdentifier || !pContentIdentifier || !phStream)
            return ERROR_INVALID_PARAMETER;
        if (pPublishOptions && ((pPublishOptions->dwVersion != PEERDIST_PUBLICATION_OPTIONS_VERSION_1 &&
                                 pPublishOptions->dwVersion != PEERDIST_PUBLICATION_OPTIONS_VERSION_2) ||
                                pPublishOptions->dwFlags != 0))
            return ERROR_INVALID_PARAMETER;
        if (current_status() == PEERDIST_STATUS_DISABLED)
            return ERROR_ACCESS_DISABLED_BY_POLICY;
        const pccrc::ServerSecret* secret = server_secret();
        if (!secret)
            return PEERDIST_ERROR_SERVICE_UNAVAILABLE;

        auto stream = std::make_shared<Stream>();
        stream->owner = handle_value(hPeerDist);
        stream->port = {hCompletionPort, ulCompletionKey};
        auto g1 = pccrc::Generator::create(pccrc::Version::kV1, *secret, {});
        auto g2 = pccrc::Generator::create(pccrc::Version::kV2, *secret, {});
        if (!g1 || !g2)
            return ERROR_INTERNAL_ERROR;
        stream->gen1.emplace(std::move(g1.value()));
        stream->gen2.emplace(std::move(g2.value()));
        auto pub = std::make_shared<Publication>();
        pub->user = current_user();
        pub->id = make_id(cbContentIdentifier, pContentIdentifier);
        pub->owner = stream->owner;
        pub->declared_length = cbContentLength;
        pub->registry = registry();
        stream->pub = pub;
        PubKey key{pub->user, pub->id};
        {
            std::lock_guard lock(g_pub_mutex);
            if (g_publications.count(key))
                return PEERDIST_ERROR_ALREADY_EXISTS;
            if (pub->registry && !pub->registry->add(pub->user, pub->id, owner_of(pub->owner)))
                return PEERDIST_ERROR_ALREADY_EXISTS; // published by another process of this user
            g_publications.emplace(key, pub);
        }
        std::uint64_t value = handles().insert(kStream, stream);
        if (!value) {
            std::lock_guard lock(g_pub_mutex);
            g_publications.erase(key);
            if (pub->registry)
                pub->registry->remove(pub->user, pub->id, owner_of(pub->owner));
            return ERROR_NOT_ENOUGH_MEMORY;
        }
        *phStream = to_handle(value);
        return ERROR_SUCCESS;
    });
}

DWORD WINAPI PeerDistServerPublishAddToStream(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_STREAM_HANDLE hStream,
                                              DWORD cbNumberOfBytes, PBYTE pBuffer, LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistServerPublishAddToStream({}, {}, {}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hStream), cbNumberOfBytes, static_cast<void*>(pBuffer), static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        std::shared_ptr<Instance> inst;
        std::shared_ptr<Stream> stream;
        if (DWORD rc = check_stream_call(hPeerDist, hStream, lpOverlapped, inst, stream))
            return rc;
        if (!cbNumberOfBytes || !pBuffer)
            return ERROR_INVALID_PARAMETER;
        std::shared_ptr<Operation> op;
        {
            std::lock_guard lock(stream->mutex);
            if (stream->completing)
                return PEERDIST_ERROR_ALREADY_COMPLETED;
            if (stream->pending)
                return ERROR_INVALID_PARAMETER; // one outstanding AddToStream per stream
            std::uint64_t declared = stream->pub->declared_length;
            if (declared && stream->added + cbNumberOfBytes > declared)
                return ERROR_INVALID_PARAMETER; // more data than the published length
            stream->added += cbNumberOfBytes;
            stream->pending_bytes = cbNumberOfBytes;
            op = stream->pending = Operation::start(lpOverlapped, stream->port);
        }
        std::span<const std::uint8_t> data(pBuffer, cbNumberOfBytes);
        run_stream_op(inst->runtime(), stream, op, [data](Stream& s) -> std::pair<DWORD, DWORD> {
            auto r1 = s.gen1->update(data);
            auto r2 = s.gen2->update(data);
            if (!r1.ok() || !r2.ok())
                return {ERROR_INTERNAL_ERROR, 0};
            return {ERROR_SUCCESS, static_cast<DWORD>(data.size())};
        });
        return ERROR_IO_PENDING;
    });
}

DWORD WINAPI PeerDistServerPublishCompleteStream(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_STREAM_HANDLE hStream,
                                                 LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistServerPublishCompleteStream({}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hStream), static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        std::shared_ptr<Instance> inst;
        std::shared_ptr<Stream> stream;
        if (DWORD rc = check_stream_call(hPeerDist, hStream, lpOverlapped, inst, stream))
            return rc;
        std::shared_ptr<Operation> op;
        {
            std::lock_guard lock(stream->mutex);
            if (stream->completing)
                return PEERDIST_ERROR_ALREADY_COMPLETED;
            if (stream->pending)
                return ERROR_INVALID_PARAMETER;
            std::uint64_t declared = stream->pub->declared_length;
            if (declared && stream->added != declared)
                return ERROR_INVALID_PARAMETER; // fewer bytes than the published length
            if (stream->added == 0)
                return ERROR_INVALID_PARAMETER; // empty content has no content information
            stream->completing = true;
            op = stream->pending = Operation::start(lpOverlapped, stream->port);
        }
        run_stream_op(inst->runtime(), stream, op, [](Stream& s) -> std::pair<DWORD, DWORD> {
            auto v1 = s.gen1->finish();
            auto v2 = s.gen2->finish();
            if (!v1 || !v2)
                return {ERROR_INTERNAL_ERROR, 0};
            if (s.pub->registry) {
                auto b1 = pccrc::serialize(v1.value());
                auto b2 = pccrc::serialize(v2.value());
                if (!b1 || !b2)
                    return {ERROR_INTERNAL_ERROR, 0};
                s.pub->registry->complete(s.pub->user, s.pub->id, owner_of(s.pub->owner), b1.value(), b2.value());
            }
            std::lock_guard lock(g_pub_mutex);
            s.pub->v1 = std::move(v1.value());
            s.pub->v2 = std::move(v2.value());
            s.pub->complete = true;
            return {ERROR_SUCCESS, 0};
        });
        return ERROR_IO_PENDING;
    });
}

DWORD WINAPI PeerDistServerCloseStreamHandle(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_STREAM_HANDLE hStream)
{
    PD_TRACE("PeerDistServerCloseStreamHandle({}, {})", static_cast<void*>(hPeerDist), static_cast<void*>(hStream));
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist) || !lookup_stream(hPeerDist, hStream))
            return ERROR_INVALID_HANDLE;
        auto stream = handles().remove<Stream>(handle_value(hStream), kStream);
        if (!stream)
            return ERROR_INVALID_HANDLE;
        if (auto op = cancel_pending(*stream, nullptr))
            op->finish(ERROR_OPERATION_ABORTED, 0);
        return ERROR_SUCCESS;
    });
}

DWORD WINAPI PeerDistServerUnpublish(PEERDIST_INSTANCE_HANDLE hPeerDist, DWORD cbContentIdentifier,
                                     PBYTE pContentIdentifier)
{
    PD_TRACE("PeerDistServerUnpublish({}, {}, {})", static_cast<void*>(hPeerDist), cbContentIdentifier,
             static_cast<void*>(pContentIdentifier));
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist))
            return ERROR_INVALID_HANDLE;
        if (!cbContentIdentifier || !pContentIdentifier)
            return ERROR_INVALID_PARAMETER;
        if (current_status() == PEERDIST_STATUS_DISABLED)
            return ERROR_ACCESS_DISABLED_BY_POLICY;
        PubKey key{current_user(), make_id(cbContentIdentifier, pContentIdentifier)};
        std::shared_ptr<Publication> pub;
        {
            std::lock_guard lock(g_pub_mutex);
            auto it = g_publications.find(key);
            if (it == g_publications.end() || it->second->owner != handle_value(hPeerDist))
                return ERROR_NOT_FOUND;
            pub = it->second;
            g_publications.erase(it);
        }
        if (pub->registry)
            pub->registry->remove(pub->user, pub->id, owner_of(pub->owner));
        // Pending stream operations on this content in this session are cancelled.
        std::vector<std::shared_ptr<Operation>> aborted;
        handles().for_each<Stream>(kStream, [&](std::uint64_t, const std::shared_ptr<Stream>& s) {
            if (s->pub == pub)
                if (auto op = cancel_pending(*s, nullptr))
                    aborted.push_back(op);
        });
        for (auto& op : aborted)
            op->finish(ERROR_OPERATION_ABORTED, 0);
        return ERROR_SUCCESS;
    });
}

DWORD WINAPI PeerDistServerOpenContentInformation(PEERDIST_INSTANCE_HANDLE hPeerDist, DWORD cbContentIdentifier,
                                                  PBYTE pContentIdentifier, ULONGLONG ullContentOffset,
                                                  ULONGLONG cbContentLength, HANDLE hCompletionPort,
                                                  ULONG_PTR ulCompletionKey,
                                                  PPEERDIST_CONTENTINFO_HANDLE phContentInfo)
{
    PD_TRACE("PeerDistServerOpenContentInformation({}, {}, {}, {}, {}, {}, {:#x}, {})", static_cast<void*>(hPeerDist),
             cbContentIdentifier, static_cast<void*>(pContentIdentifier), ullContentOffset, cbContentLength,
             static_cast<void*>(hCompletionPort), ulCompletionKey, static_cast<void*>(phContentInfo));
    return guarded(__func__, [&]() -> DWORD {
        // Without retrieval options: version 1 content information, which every client reads.
        return open_content_information(hPeerDist, cbContentIdentifier, pContentIdentifier, ullContentOffset,
                                        cbContentLength, pccrc::Version::kV1, hCompletionPort, ulCompletionKey,
                                        phContentInfo);
    });
}

DWORD WINAPI PeerDistServerOpenContentInformationEx(PEERDIST_INSTANCE_HANDLE hPeerDist, DWORD cbContentIdentifier,
                                                    PBYTE pContentIdentifier, ULONGLONG ullContentOffset,
                                                    ULONGLONG cbContentLength,
                                                    PEERDIST_RETRIEVAL_OPTIONS* pRetrievalOptions,
                                                    HANDLE hCompletionPort, ULONG_PTR ulCompletionKey,
                                                    PPEERDIST_CONTENTINFO_HANDLE phContentInfo)
{
    PD_TRACE("PeerDistServerOpenContentInformationEx({}, {}, {}, {}, {}, {}, {}, {:#x}, {})",
             static_cast<void*>(hPeerDist), cbContentIdentifier, static_cast<void*>(pContentIdentifier),
             ullContentOffset, cbContentLength, static_cast<void*>(pRetrievalOptions),
             static_cast<void*>(hCompletionPort), ulCompletionKey, static_cast<void*>(phContentInfo));
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist))
            return ERROR_INVALID_HANDLE;
        const PEERDIST_RETRIEVAL_OPTIONS* o = pRetrievalOptions;
        if (!o || o->cbSize != sizeof(PEERDIST_RETRIEVAL_OPTIONS) || o->dwReserved != 0 ||
            o->dwContentInfoMinVersion < PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_1 ||
            o->dwContentInfoMinVersion > o->dwContentInfoMaxVersion)
            return ERROR_INVALID_PARAMETER;
        if (o->dwContentInfoMinVersion > PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_2)
            return PEERDIST_ERROR_CONTENTINFO_VERSION_UNSUPPORTED;
        // The highest version the requesting client accepts.
        auto version = o->dwContentInfoMaxVersion >= PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_2 ? pccrc::Version::kV2
                                                                                                      : pccrc::Version::kV1;
        return open_content_information(hPeerDist, cbContentIdentifier, pContentIdentifier, ullContentOffset,
                                        cbContentLength, version, hCompletionPort, ulCompletionKey, phContentInfo);
    });
}

DWORD WINAPI PeerDistServerRetrieveContentInformation(PEERDIST_INSTANCE_HANDLE hPeerDist,
                                                      PEERDIST_CONTENTINFO_HANDLE hContentInfo, DWORD cbMaxNumberOfBytes,
                                                      PBYTE pBuffer, LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistServerRetrieveContentInformation({}, {}, {}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentInfo), cbMaxNumberOfBytes, static_cast<void*>(pBuffer),
             static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist))
            return ERROR_INVALID_HANDLE;
        auto ci = lookup_ci(hPeerDist, hContentInfo);
        if (!ci)
            return ERROR_INVALID_HANDLE;
        if (!lpOverlapped || !cbMaxNumberOfBytes || !pBuffer || !offsets_zero(lpOverlapped))
            return ERROR_INVALID_PARAMETER;
        if (current_status() == PEERDIST_STATUS_DISABLED)
            return ERROR_ACCESS_DISABLED_BY_POLICY;
        std::uint64_t position;
        DWORD n;
        std::shared_ptr<Operation> op;
        {
            std::lock_guard lock(ci->mutex);
            if (ci->position >= ci->bytes.size())
                return PEERDIST_ERROR_NO_MORE;
            position = ci->position;
            n = static_cast<DWORD>(std::min<std::uint64_t>(cbMaxNumberOfBytes, ci->bytes.size() - position));
            std::memcpy(pBuffer, ci->bytes.data() + position, n);
            ci->position += n;
            op = Operation::start(lpOverlapped, ci->port);
        }
        // Completed at once (the CI is in memory); Offset/OffsetHigh = position of these bytes.
        op->complete(ERROR_SUCCESS, n, position);
        return ERROR_IO_PENDING;
    });
}

DWORD WINAPI PeerDistServerCloseContentInformation(PEERDIST_INSTANCE_HANDLE hPeerDist,
                                                   PEERDIST_CONTENTINFO_HANDLE hContentInfo)
{
    PD_TRACE("PeerDistServerCloseContentInformation({}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentInfo));
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist) || !lookup_ci(hPeerDist, hContentInfo))
            return ERROR_INVALID_HANDLE;
        return handles().remove<ContentInfoHandle>(handle_value(hContentInfo), kContentInfo) ? ERROR_SUCCESS
                                                                                              : ERROR_INVALID_HANDLE;
    });
}

DWORD WINAPI PeerDistServerCancelAsyncOperation(PEERDIST_INSTANCE_HANDLE hPeerDist, DWORD cbContentIdentifier,
                                                PBYTE pContentIdentifier, LPOVERLAPPED pOverlapped)
{
    PD_TRACE("PeerDistServerCancelAsyncOperation({}, {}, {}, {})", static_cast<void*>(hPeerDist), cbContentIdentifier,
             static_cast<void*>(pContentIdentifier), static_cast<void*>(pOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist))
            return ERROR_INVALID_HANDLE;
        if (!cbContentIdentifier || !pContentIdentifier || !pOverlapped)
            return ERROR_INVALID_PARAMETER;
        auto id = make_id(cbContentIdentifier, pContentIdentifier);
        std::shared_ptr<Operation> op;
        handles().for_each<Stream>(kStream, [&](std::uint64_t, const std::shared_ptr<Stream>& s) {
            if (!op && s->owner == handle_value(hPeerDist) && s->pub->id == id)
                op = cancel_pending(*s, pOverlapped);
        });
        // Returns after the cancellation result was delivered; if the operation already began
        // (or finished), there is nothing left to cancel.
        if (!op)
            return PEERDIST_ERROR_OPERATION_NOTFOUND;
        op->finish(ERROR_OPERATION_ABORTED, 0);
        return ERROR_SUCCESS;
    });
}

} // extern "C"
