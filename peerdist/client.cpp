// PeerDist client side: PeerDistClientOpenContent, ...CloseContent, ...AddContentInformation,
// ...CompleteContentInformation, ...AddData, ...BlockRead, ...StreamRead, ...FlushContent,
// ...GetInformationByHandle, ...CancelAsyncOperation.
//
// The ABI layer only: handle lookups, argument checks, the policy check, and the mapping of
// engine calls and results to OVERLAPPED completions and Win32 codes (completion.h). What a content
// handle does - content information, AddData with verification, block and stream reads, waits,
// cancellation - is the engine's ContentSession (src/peerdist/content_session.h), whose contracts
// this layer relies on: exactly one completion per operation that returned ERROR_IO_PENDING; a
// closed handle refuses new operations (ERROR_INVALID_HANDLE, OVERLAPPED untouched: the engine
// starts the Operation only when it accepts the call); CloseContent and Shutdown abort every
// pending one; completions run with no engine lock held.
#include "abi.h"
#include "content_session.h"
#include "instance.h"
#include "read_path.h"
#include "server.h"

#include <array>
#include <cstring>

namespace pd::peerdist {
namespace {

// A PEERDIST_CONTENT_HANDLE: the engine session, its instance and the completion port its
// operations complete to.
struct ContentHandle {
    std::uint64_t owner = 0;
    CompletionPort port;
    std::shared_ptr<ContentSession> session;
};

std::uint64_t ov_offset(const OVERLAPPED* ov) { return (std::uint64_t{ov->OffsetHigh} << 32) | ov->Offset; }

std::shared_ptr<ContentHandle> lookup_content(PEERDIST_INSTANCE_HANDLE h, PEERDIST_CONTENT_HANDLE c)
{
    auto content = handles().lookup<ContentHandle>(handle_value(c), kContent);
    return content && content->owner == handle_value(h) ? content : nullptr;
}

// The prologue of every call on a content handle: the instance, a content handle of that
// instance, an OVERLAPPED, the policy. 0 when all pass.
DWORD check_call(PEERDIST_INSTANCE_HANDLE h, PEERDIST_CONTENT_HANDLE c, const OVERLAPPED* ov,
                 std::shared_ptr<Instance>& inst, std::shared_ptr<ContentHandle>& content)
{
    inst = lookup_instance(h);
    if (!inst)
        return ERROR_INVALID_HANDLE;
    content = lookup_content(h, c);
    if (!content)
        return ERROR_INVALID_HANDLE;
    if (!ov)
        return ERROR_INVALID_PARAMETER;
    if (current_status() == PEERDIST_STATUS_DISABLED)
        return ERROR_ACCESS_DISABLED_BY_POLICY;
    return ERROR_SUCCESS;
}

// check_call plus the buffer rule of BlockRead / StreamRead (cbMax 0 = a query, buffer optional).
DWORD check_read_call(PEERDIST_INSTANCE_HANDLE h, PEERDIST_CONTENT_HANDLE c, DWORD cb, const BYTE* buffer,
                      const OVERLAPPED* ov, std::shared_ptr<Instance>& inst, std::shared_ptr<ContentHandle>& content)
{
    if (DWORD rc = check_call(h, c, ov, inst, content))
        return rc;
    return cb && !buffer ? ERROR_INVALID_PARAMETER : ERROR_SUCCESS;
}

// dwTimeoutInMilliseconds of BlockRead / StreamRead.
ReadTimeout read_timeout(DWORD ms)
{
    if (ms == PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY)
        return ReadTimeout::local_cache_only();
    if (ms == INFINITE)
        return ReadTimeout::infinite();
    if (ms == PEERDIST_READ_TIMEOUT_DEFAULT)
        return ReadTimeout::after(kDefaultReadTimeout);
    return ReadTimeout::after(std::chrono::milliseconds(ms));
}

} // namespace

void client_shutdown(std::uint64_t instance)
{
    for (auto& c : remove_owned<ContentHandle>(kContent, instance))
        c->session->close();
}

} // namespace pd::peerdist

using namespace pd::peerdist;

extern "C" {

DWORD WINAPI PeerDistClientOpenContent(PEERDIST_INSTANCE_HANDLE hPeerDist, PCPEERDIST_CONTENT_TAG pContentTag,
                                       HANDLE hCompletionPort, ULONG_PTR ulCompletionKey,
                                       PPEERDIST_CONTENT_HANDLE phContentHandle)
{
    PD_TRACE("PeerDistClientOpenContent({}, {}, {}, {:#x}, {})", static_cast<void*>(hPeerDist),
             static_cast<const void*>(pContentTag), static_cast<void*>(hCompletionPort), ulCompletionKey,
             static_cast<void*>(phContentHandle));
    return guarded(__func__, [&]() -> DWORD {
        auto inst = lookup_instance(hPeerDist);
        if (!inst)
            return ERROR_INVALID_HANDLE;
        if (!pContentTag || !phContentHandle)
            return ERROR_INVALID_PARAMETER;
        if (current_status() == PEERDIST_STATUS_DISABLED)
            return ERROR_ACCESS_DISABLED_BY_POLICY;
        auto store = shared_store();
        if (!store)
            return PEERDIST_ERROR_SERVICE_UNAVAILABLE;
        ContentSession::Tag tag;
        std::memcpy(tag.data(), pContentTag->Data, tag.size());
        auto c = std::make_shared<ContentHandle>();
        c->owner = handle_value(hPeerDist);
        c->port = {hCompletionPort, ulCompletionKey};
        c->session = ContentSession::create(inst->runtime(), inst->waiters(), std::move(store), tag);
        std::uint64_t value = handles().insert(kContent, c);
        if (!value)
            return ERROR_NOT_ENOUGH_MEMORY;
        *phContentHandle = to_handle(value);
        return ERROR_SUCCESS;
    });
}

DWORD WINAPI PeerDistClientCloseContent(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_CONTENT_HANDLE hContentHandle)
{
    PD_TRACE("PeerDistClientCloseContent({}, {})", static_cast<void*>(hPeerDist), static_cast<void*>(hContentHandle));
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist) || !lookup_content(hPeerDist, hContentHandle))
            return ERROR_INVALID_HANDLE;
        auto c = handles().remove<ContentHandle>(handle_value(hContentHandle), kContent);
        if (!c)
            return ERROR_INVALID_HANDLE;
        c->session->close(); // pending operations complete ERROR_OPERATION_ABORTED before this returns
        return ERROR_SUCCESS;
    });
}

DWORD WINAPI PeerDistClientAddContentInformation(PEERDIST_INSTANCE_HANDLE hPeerDist,
                                                 PEERDIST_CONTENT_HANDLE hContentHandle, DWORD cbNumberOfBytes,
                                                 PBYTE pBuffer, LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistClientAddContentInformation({}, {}, {}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), cbNumberOfBytes, static_cast<void*>(pBuffer),
             static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        std::shared_ptr<Instance> inst;
        std::shared_ptr<ContentHandle> c;
        if (DWORD rc = check_call(hPeerDist, hContentHandle, lpOverlapped, inst, c))
            return rc;
        if (!cbNumberOfBytes || !pBuffer || lpOverlapped->Offset || lpOverlapped->OffsetHigh)
            return ERROR_INVALID_PARAMETER;
        return call_result(c->session->add_content_information({pBuffer, cbNumberOfBytes},
                                                               overlapped_call(lpOverlapped, c->port)));
    });
}

DWORD WINAPI PeerDistClientCompleteContentInformation(PEERDIST_INSTANCE_HANDLE hPeerDist,
                                                      PEERDIST_CONTENT_HANDLE hContentHandle, LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistClientCompleteContentInformation({}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        std::shared_ptr<Instance> inst;
        std::shared_ptr<ContentHandle> c;
        if (DWORD rc = check_call(hPeerDist, hContentHandle, lpOverlapped, inst, c))
            return rc;
        if (lpOverlapped->Offset || lpOverlapped->OffsetHigh)
            return ERROR_INVALID_PARAMETER;
        return call_result(c->session->complete_content_information(overlapped_call(lpOverlapped, c->port)));
    });
}

DWORD WINAPI PeerDistClientAddData(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_CONTENT_HANDLE hContentHandle,
                                   DWORD cbNumberOfBytes, PBYTE pBuffer, LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistClientAddData({}, {}, {}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), cbNumberOfBytes, static_cast<void*>(pBuffer),
             static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        std::shared_ptr<Instance> inst;
        std::shared_ptr<ContentHandle> c;
        if (DWORD rc = check_call(hPeerDist, hContentHandle, lpOverlapped, inst, c))
            return rc;
        if (!cbNumberOfBytes || !pBuffer)
            return ERROR_INVALID_PARAMETER;
        // The content offset of the data is the OVERLAPPED's Offset/OffsetHigh (AddData remarks).
        return call_result(c->session->add_data(ov_offset(lpOverlapped), {pBuffer, cbNumberOfBytes},
                                                overlapped_call(lpOverlapped, c->port)));
    });
}

DWORD WINAPI PeerDistClientBlockRead(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_CONTENT_HANDLE hContentHandle,
                                     DWORD cbMaxNumberOfBytes, PBYTE pBuffer, DWORD dwTimeoutInMilliseconds,
                                     LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistClientBlockRead({}, {}, {}, {}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), cbMaxNumberOfBytes, static_cast<void*>(pBuffer),
             dwTimeoutInMilliseconds, static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        std::shared_ptr<Instance> inst;
        std::shared_ptr<ContentHandle> c;
        if (DWORD rc = check_read_call(hPeerDist, hContentHandle, cbMaxNumberOfBytes, pBuffer, lpOverlapped, inst, c))
            return rc;
        std::span<std::uint8_t> out;
        if (cbMaxNumberOfBytes) // cbMaxNumberOfBytes 0: a query (the buffer may be null)
            out = {pBuffer, cbMaxNumberOfBytes};
        return call_result(c->session->block_read(ov_offset(lpOverlapped), out, read_timeout(dwTimeoutInMilliseconds),
                                                  overlapped_call(lpOverlapped, c->port)));
    });
}

DWORD WINAPI PeerDistClientStreamRead(PEERDIST_INSTANCE_HANDLE hPeerDist, PEERDIST_CONTENT_HANDLE hContentHandle,
                                      DWORD cbMaxNumberOfBytes, PBYTE pBuffer, DWORD dwTimeoutInMilliseconds,
                                      LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistClientStreamRead({}, {}, {}, {}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), cbMaxNumberOfBytes, static_cast<void*>(pBuffer),
             dwTimeoutInMilliseconds, static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        std::shared_ptr<Instance> inst;
        std::shared_ptr<ContentHandle> c;
        if (DWORD rc = check_read_call(hPeerDist, hContentHandle, cbMaxNumberOfBytes, pBuffer, lpOverlapped, inst, c))
            return rc;
        std::span<std::uint8_t> out;
        if (cbMaxNumberOfBytes)
            out = {pBuffer, cbMaxNumberOfBytes};
        return call_result(c->session->stream_read(out, read_timeout(dwTimeoutInMilliseconds),
                                                   overlapped_call(lpOverlapped, c->port)));
    });
}

DWORD WINAPI PeerDistClientFlushContent(PEERDIST_INSTANCE_HANDLE hPeerDist, PCPEERDIST_CONTENT_TAG pContentTag,
                                        HANDLE hCompletionPort, ULONG_PTR ulCompletionKey, LPOVERLAPPED lpOverlapped)
{
    PD_TRACE("PeerDistClientFlushContent({}, {}, {}, {:#x}, {})", static_cast<void*>(hPeerDist),
             static_cast<const void*>(pContentTag), static_cast<void*>(hCompletionPort), ulCompletionKey,
             static_cast<void*>(lpOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        auto inst = lookup_instance(hPeerDist);
        if (!inst)
            return ERROR_INVALID_HANDLE;
        if (!pContentTag || !lpOverlapped || lpOverlapped->Offset || lpOverlapped->OffsetHigh)
            return ERROR_INVALID_PARAMETER;
        if (current_status() == PEERDIST_STATUS_DISABLED)
            return ERROR_ACCESS_DISABLED_BY_POLICY;
        auto store = shared_store();
        if (!store)
            return PEERDIST_ERROR_SERVICE_UNAVAILABLE;
        ContentSession::Tag tag;
        std::memcpy(tag.data(), pContentTag->Data, tag.size());
        return call_result(flush_content(inst->runtime(), std::move(store), tag,
                                         overlapped_call(lpOverlapped, {hCompletionPort, ulCompletionKey})));
    });
}

DWORD WINAPI PeerDistClientGetInformationByHandle(PEERDIST_INSTANCE_HANDLE hPeerDist,
                                                  PEERDIST_CONTENT_HANDLE hContentHandle,
                                                  PEERDIST_CLIENT_INFO_BY_HANDLE_CLASS PeerDistClientInfoClass,
                                                  DWORD dwBufferSize, LPVOID lpInformation)
{
    PD_TRACE("PeerDistClientGetInformationByHandle({}, {}, {}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), static_cast<int>(PeerDistClientInfoClass), dwBufferSize,
             lpInformation);
    return guarded(__func__, [&]() -> DWORD {
        if (!lookup_instance(hPeerDist))
            return ERROR_INVALID_HANDLE;
        auto c = lookup_content(hPeerDist, hContentHandle);
        if (!c)
            return ERROR_INVALID_HANDLE;
        if (PeerDistClientInfoClass != PeerDistClientBasicInfo || !lpInformation ||
            dwBufferSize < sizeof(PEERDIST_CLIENT_BASIC_INFO))
            return ERROR_INVALID_PARAMETER;
        static_cast<PEERDIST_CLIENT_BASIC_INFO*>(lpInformation)->fFlashCrowd = c->session->flash_crowd() ? TRUE : FALSE;
        return ERROR_SUCCESS;
    });
}

DWORD WINAPI PeerDistClientCancelAsyncOperation(PEERDIST_INSTANCE_HANDLE hPeerDist,
                                                PEERDIST_CONTENT_HANDLE hContentHandle, LPOVERLAPPED pOverlapped)
{
    PD_TRACE("PeerDistClientCancelAsyncOperation({}, {}, {})", static_cast<void*>(hPeerDist),
             static_cast<void*>(hContentHandle), static_cast<void*>(pOverlapped));
    return guarded(__func__, [&]() -> DWORD {
        auto inst = lookup_instance(hPeerDist);
        if (!inst)
            return ERROR_INVALID_HANDLE;
        auto c = lookup_content(hPeerDist, hContentHandle);
        if (!c)
            return ERROR_INVALID_HANDLE;
        if (current_status() == PEERDIST_STATUS_DISABLED)
            return ERROR_ACCESS_DISABLED_BY_POLICY;
        // pOverlapped null: every pending operation of the handle. The results are delivered
        // before cancel() returns (function remarks).
        std::size_t n = c->session->cancel(pOverlapped);
        if (pOverlapped && n == 0)
            return PEERDIST_ERROR_OPERATION_NOTFOUND;
        SetLastError(ERROR_OPERATION_ABORTED);
        return ERROR_SUCCESS;
    });
}

} // extern "C"
