// PeerDist server side (publishing): PeerDistServerPublishStream, ...AddToStream,
// ...CompleteStream, ...CloseStreamHandle, ...Unpublish, ...OpenContentInformation(Ex),
// ...RetrieveContentInformation, ...CloseContentInformation, ...CancelAsyncOperation.
//
// The ABI layer only: handles, argument checks, the policy, and what is Win32 - the caller's user
// SID, process identities for the machine's publication registry, the machine's server secret.
// Hashing, the publication registry and the content-information reader are the engine's
// (src/peerdist/publication.h): publications live in this process's Publisher, keyed by (user,
// content identifier), and are removed by Unpublish or by the owning instance's PeerDistShutdown.
#include "server.h"

#include "abi.h"
#include "instance.h"
#include "publication.h"

#include "pd/cache/publications.hpp"
#include "pd/cache/store.hpp"

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
        const std::filesystem::path base = cache::program_data_directory();
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

// This process's publications (the engine keeps them; the registry records owners as
// process id + start time + instance).
Publisher& publisher()
{
    static Publisher p(owner_of);
    return p;
}

// A PEERDIST_STREAM_HANDLE.
struct StreamHandle {
    std::uint64_t owner = 0;
    CompletionPort port;
    std::shared_ptr<PublishStream> stream;
};

// A PEERDIST_CONTENTINFO_HANDLE.
struct ContentInfoHandle {
    std::uint64_t owner = 0;
    CompletionPort port;
    std::shared_ptr<ContentInfoReader> reader;
};

std::span<const std::uint8_t> id_of(DWORD cb, PBYTE p) { return {p, cb}; }

bool offsets_zero(const OVERLAPPED* ov) { return ov->Offset == 0 && ov->OffsetHigh == 0; }

std::shared_ptr<StreamHandle> lookup_stream(PEERDIST_INSTANCE_HANDLE h, PEERDIST_STREAM_HANDLE s)
{
    auto stream = handles().lookup<StreamHandle>(handle_value(s), kStream);
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
                        std::shared_ptr<StreamHandle>& stream)
{
    if (!lookup_instance(h))
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

DWORD open_content_information(PEERDIST_INSTANCE_HANDLE h, DWORD cbId, PBYTE pId, ULONGLONG offset, ULONGLONG length,
                               pd::pccrc::Version version, HANDLE port, ULONG_PTR key, PPEERDIST_CONTENTINFO_HANDLE out)
{
    if (!lookup_instance(h))
        return ERROR_INVALID_HANDLE;
    if (!cbId || !pId || !out)
        return ERROR_INVALID_PARAMETER;
    if (current_status() == PEERDIST_STATUS_DISABLED)
        return ERROR_ACCESS_DISABLED_BY_POLICY;
    std::vector<std::uint8_t> bytes;
    Status s = publisher().content_information(current_user(), id_of(cbId, pId), offset, length, version, registry(),
                                               &bytes);
    if (s != Status::kSuccess)
        return win32_error(s);
    auto ci = std::make_shared<ContentInfoHandle>();
    ci->owner = handle_value(h);
    ci->port = {port, key};
    ci->reader = std::make_shared<ContentInfoReader>(std::move(bytes));
    std::uint64_t value = handles().insert(kContentInfo, ci);
    if (!value)
        return ERROR_NOT_ENOUGH_MEMORY;
    *out = to_handle(value);
    return ERROR_SUCCESS;
}

} // namespace

void server_shutdown(std::uint64_t instance)
{
    // Streams and content-information handles of the instance: closed, pending work aborted,
    // publications removed (here and in the machine's registry).
    for (auto& s : remove_owned<StreamHandle>(kStream, instance))
        s->stream->close();
    remove_owned<ContentInfoHandle>(kContentInfo, instance);
    publisher().remove_owner(instance, registry());
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
        auto inst = lookup_instance(hPeerDist);
        if (!inst)
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
        Publisher::Request req;
        req.user = current_user();
        req.id.assign(pContentIdentifier, pContentIdentifier + cbContentIdentifier);
        req.owner = handle_value(hPeerDist);
        req.declared_length = cbContentLength;
        req.registry = registry();
        auto h = std::make_shared<StreamHandle>();
        h->owner = req.owner;
        h->port = {hCompletionPort, ulCompletionKey};
        const std::string user = req.user;
        if (Status s = publisher().publish(inst->runtime(), *secret, std::move(req), &h->stream); s != Status::kSuccess)
            return win32_error(s);
        std::uint64_t value = handles().insert(kStream, h);
        if (!value) {
            publisher().unpublish(user, id_of(cbContentIdentifier, pContentIdentifier), h->owner);
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
        std::shared_ptr<StreamHandle> h;
        if (DWORD rc = check_stream_call(hPeerDist, hStream, lpOverlapped, h))
            return rc;
        if (!cbNumberOfBytes || !pBuffer)
            return ERROR_INVALID_PARAMETER;
        return call_result(h->stream->add({pBuffer, cbNumberOfBytes}, overlapped_call(lpOverlapped, h->port)));
    });
}

DWORD WINAPI PeerDistServerPublishCompleteStream(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_STREAM_HANDLE hStream,
                                                 LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistServerPublishCompleteStream({}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hStream), static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        std::shared_ptr<StreamHandle> h;
        if (DWORD rc = check_stream_call(hPeerDist, hStream, lpOverlapped, h))
            return rc;
        return call_result(h->stream->complete(overlapped_call(lpOverlapped, h->port)));
    });
}

DWORD WINAPI PeerDistServerCloseStreamHandle(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_STREAM_HANDLE hStream)
{
    PD_TRACE("PeerDistServerCloseStreamHandle({}, {})", static_cast<void*>(hPeerDist), static_cast<void*>(hStream));
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist) || !lookup_stream(hPeerDist, hStream))
            return ERROR_INVALID_HANDLE;
        auto h = handles().remove<StreamHandle>(handle_value(hStream), kStream);
        if (!h)
            return ERROR_INVALID_HANDLE;
        h->stream->close(); // a pending operation that has not begun completes ERROR_OPERATION_ABORTED
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
        return win32_error(publisher().unpublish(current_user(), id_of(cbContentIdentifier, pContentIdentifier),
                                                 handle_value(hPeerDist)));
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
        // Completes at once; Offset/OffsetHigh = the position of the bytes returned.
        return call_result(ci->reader->retrieve({pBuffer, cbMaxNumberOfBytes}, overlapped_call(lpOverlapped, ci->port)));
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
        // Returns after the cancellation result was delivered; if the operation already began
        // (or finished), there is nothing left to cancel (PEERDIST_ERROR_OPERATION_NOTFOUND).
        return win32_error(publisher().cancel(handle_value(hPeerDist), id_of(cbContentIdentifier, pContentIdentifier),
                                              pOverlapped));
    });
}

} // extern "C"
