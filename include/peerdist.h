/*
 * peerdist.h - Peer Distribution (BranchCache) API, clean-room public header.
 *
 * Written from Microsoft's public API reference for peerdist.h
 * (learn.microsoft.com/windows/win32/api/peerdist/, mirrored in
 * docs/sdk-api/peerdist/) and the "Peer Distribution API Data Types" page.
 * Works as C and C++, with mingw-w64 and MSVC.
 *
 * Define PEERDIST_BUILDING when compiling the DLL itself (exports come from a
 * .def file), so the prototypes are not marked dllimport.
 */
#pragma once
#ifndef PEERDIST_H_CLEANROOM
#define PEERDIST_H_CLEANROOM

#include <windows.h>

#ifndef PEERDIST_API
# ifdef PEERDIST_BUILDING
#  define PEERDIST_API
# else
#  define PEERDIST_API __declspec(dllimport)
# endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Handles: "Peer Distribution API Data Types" (p2psdk) ---------------- */
typedef HANDLE PEERDIST_INSTANCE_HANDLE,    *PPEERDIST_INSTANCE_HANDLE;
typedef HANDLE PEERDIST_CONTENT_HANDLE,     *PPEERDIST_CONTENT_HANDLE;
typedef HANDLE PEERDIST_CONTENTINFO_HANDLE, *PPEERDIST_CONTENTINFO_HANDLE;
typedef HANDLE PEERDIST_STREAM_HANDLE,      *PPEERDIST_STREAM_HANDLE;

/* ---- Read timeouts: PeerDistClientBlockRead / PeerDistClientStreamRead --- */
#define PEERDIST_READ_TIMEOUT_LOCAL_CACHE_ONLY 0          /* never touch the network */
#define PEERDIST_READ_TIMEOUT_DEFAULT          0xfffffffe /* service default (5 s) */

/* ---- PEERDIST_STATUS: ne-peerdist-peerdist_status ------------------------ */
typedef enum {
    PEERDIST_STATUS_DISABLED    = 0,  /* off by policy or configuration */
    PEERDIST_STATUS_UNAVAILABLE = 1,  /* not ready yet */
    PEERDIST_STATUS_AVAILABLE   = 2   /* ready */
} PEERDIST_STATUS;

/* ---- Content information versions: ns-peerdist-peerdist_retrieval_options */
#define PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_1 1  /* Windows 7 format */
#define PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_2 2  /* Windows 8 format */
#define PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION \
        PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_2

/* ---- ns-peerdist-peerdist_retrieval_options (Windows 8+) ----------------- */
typedef struct peerdist_retrieval_options_tag {
    DWORD cbSize;
    DWORD dwContentInfoMinVersion;
    DWORD dwContentInfoMaxVersion;
    DWORD dwReserved;                 /* must be 0 */
} PEERDIST_RETRIEVAL_OPTIONS, *PPEERDIST_RETRIEVAL_OPTIONS;

/* ---- ns-peerdist-peerdist_status_info (Windows 8+) ----------------------- */
typedef struct peerdist_status_info_tag {
    DWORD           cbSize;
    PEERDIST_STATUS status;
    DWORD           dwMinVer;         /* PEERDIST_RETRIEVAL_OPTIONS_CONTENTINFO_VERSION_x */
    DWORD           dwMaxVer;
} PEERDIST_STATUS_INFO, *PPEERDIST_STATUS_INFO;

/* ---- ns-peerdist-peerdist_publication_options ---------------------------- */
#define PEERDIST_PUBLICATION_OPTIONS_VERSION_1 1
#define PEERDIST_PUBLICATION_OPTIONS_VERSION_2 2
#define PEERDIST_PUBLICATION_OPTIONS_VERSION   PEERDIST_PUBLICATION_OPTIONS_VERSION_2

typedef struct peerdist_publication_options_tag {
    DWORD dwVersion;                  /* PEERDIST_PUBLICATION_OPTIONS_VERSION_x */
    DWORD dwFlags;                    /* reserved */
} PEERDIST_PUBLICATION_OPTIONS, *PPEERDIST_PUBLICATION_OPTIONS;
typedef const PEERDIST_PUBLICATION_OPTIONS *PCPEERDIST_PUBLICATION_OPTIONS;

/* ---- ns-peerdist-peerdist_content_tag ------------------------------------ */
typedef struct peerdist_content_tag_tag {
    BYTE Data[16];
} PEERDIST_CONTENT_TAG, *PPEERDIST_CONTENT_TAG;
typedef const PEERDIST_CONTENT_TAG *PCPEERDIST_CONTENT_TAG;

/* ---- ne-peerdist-peerdist_client_info_by_handle_class (Windows 8+) ------- */
typedef enum _PEERDIST_CLIENT_INFO_BY_HANDLE_CLASS {
    PeerDistClientBasicInfo = 0,
    MaximumPeerDistClientInfoByHandlesClass   /* bound only, never pass it */
} PEERDIST_CLIENT_INFO_BY_HANDLE_CLASS, *PPEERDIST_CLIENT_INFO_BY_HANDLE_CLASS;

/* ---- ns-peerdist-peerdist_client_basic_info (Windows 8+) ----------------- */
typedef struct _PEERDIST_CLIENT_BASIC_INFO {
    BOOL fFlashCrowd;
} PEERDIST_CLIENT_BASIC_INFO, *PPEERDIST_CLIENT_BASIC_INFO;

/* ---- Error codes 4050-4066 (winerror.h; System Error Codes 4000-5999).
 *      The installed mingw-w64 winerror.h lacks them; guarded in case a
 *      newer one provides them. ------------------------------------------- */
#ifndef PEERDIST_ERROR_CONTENTINFO_VERSION_UNSUPPORTED
#define PEERDIST_ERROR_CONTENTINFO_VERSION_UNSUPPORTED 4050L
#endif
#ifndef PEERDIST_ERROR_CANNOT_PARSE_CONTENTINFO
#define PEERDIST_ERROR_CANNOT_PARSE_CONTENTINFO 4051L
#endif
#ifndef PEERDIST_ERROR_MISSING_DATA
#define PEERDIST_ERROR_MISSING_DATA 4052L
#endif
#ifndef PEERDIST_ERROR_NO_MORE
#define PEERDIST_ERROR_NO_MORE 4053L
#endif
#ifndef PEERDIST_ERROR_NOT_INITIALIZED
#define PEERDIST_ERROR_NOT_INITIALIZED 4054L
#endif
#ifndef PEERDIST_ERROR_ALREADY_INITIALIZED
#define PEERDIST_ERROR_ALREADY_INITIALIZED 4055L
#endif
#ifndef PEERDIST_ERROR_SHUTDOWN_IN_PROGRESS
#define PEERDIST_ERROR_SHUTDOWN_IN_PROGRESS 4056L
#endif
#ifndef PEERDIST_ERROR_INVALIDATED
#define PEERDIST_ERROR_INVALIDATED 4057L
#endif
#ifndef PEERDIST_ERROR_ALREADY_EXISTS
#define PEERDIST_ERROR_ALREADY_EXISTS 4058L
#endif
#ifndef PEERDIST_ERROR_OPERATION_NOTFOUND
#define PEERDIST_ERROR_OPERATION_NOTFOUND 4059L
#endif
#ifndef PEERDIST_ERROR_ALREADY_COMPLETED
#define PEERDIST_ERROR_ALREADY_COMPLETED 4060L
#endif
#ifndef PEERDIST_ERROR_OUT_OF_BOUNDS
#define PEERDIST_ERROR_OUT_OF_BOUNDS 4061L
#endif
#ifndef PEERDIST_ERROR_VERSION_UNSUPPORTED
#define PEERDIST_ERROR_VERSION_UNSUPPORTED 4062L
#endif
#ifndef PEERDIST_ERROR_INVALID_CONFIGURATION
#define PEERDIST_ERROR_INVALID_CONFIGURATION 4063L
#endif
#ifndef PEERDIST_ERROR_NOT_LICENSED
#define PEERDIST_ERROR_NOT_LICENSED 4064L
#endif
#ifndef PEERDIST_ERROR_SERVICE_UNAVAILABLE
#define PEERDIST_ERROR_SERVICE_UNAVAILABLE 4065L
#endif
#ifndef PEERDIST_ERROR_TRUST_FAILURE
#define PEERDIST_ERROR_TRUST_FAILURE 4066L
#endif

/* ======================================================================== */
/* Functions (nf-peerdist-*). All return Win32 error codes except          */
/* PeerDistGetOverlappedResult (BOOL).                                      */
/* ======================================================================== */

/* -- Common ---------------------------------------------------------------- */
PEERDIST_API DWORD WINAPI PeerDistStartup(
    DWORD dwVersionRequested,
    PPEERDIST_INSTANCE_HANDLE phPeerDist,
    PDWORD pdwSupportedVersion);

PEERDIST_API DWORD WINAPI PeerDistShutdown(
    PEERDIST_INSTANCE_HANDLE hPeerDist);

PEERDIST_API DWORD WINAPI PeerDistGetStatus(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_STATUS *pPeerDistStatus);

/* Windows 8+ */
PEERDIST_API DWORD WINAPI PeerDistGetStatusEx(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_STATUS_INFO *pPeerDistStatus);

PEERDIST_API DWORD WINAPI PeerDistRegisterForStatusChangeNotification(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    HANDLE hCompletionPort,
    ULONG_PTR ulCompletionKey,
    LPOVERLAPPED lpOverlapped,
    PEERDIST_STATUS *pPeerDistStatus);

/* Windows 8+ */
PEERDIST_API DWORD WINAPI PeerDistRegisterForStatusChangeNotificationEx(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    HANDLE hCompletionPort,
    ULONG_PTR ulCompletionKey,
    LPOVERLAPPED lpOverlapped,
    PEERDIST_STATUS_INFO *pPeerDistStatus);

PEERDIST_API DWORD WINAPI PeerDistUnregisterForStatusChangeNotification(
    PEERDIST_INSTANCE_HANDLE hPeerDist);

/* Windows 8+ */
PEERDIST_API BOOL WINAPI PeerDistGetOverlappedResult(
    LPOVERLAPPED lpOverlapped,
    LPDWORD lpNumberOfBytesTransferred,
    BOOL bWait);

/* -- Server (publishing) ----------------------------------------------------- */
PEERDIST_API DWORD WINAPI PeerDistServerPublishStream(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    DWORD cbContentIdentifier,
    PBYTE pContentIdentifier,
    ULONGLONG cbContentLength,
    PCPEERDIST_PUBLICATION_OPTIONS pPublishOptions,
    HANDLE hCompletionPort,
    ULONG_PTR ulCompletionKey,
    PPEERDIST_STREAM_HANDLE phStream);

PEERDIST_API DWORD WINAPI PeerDistServerPublishAddToStream(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_STREAM_HANDLE hStream,
    DWORD cbNumberOfBytes,
    PBYTE pBuffer,
    LPOVERLAPPED lpOverlapped);

PEERDIST_API DWORD WINAPI PeerDistServerPublishCompleteStream(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_STREAM_HANDLE hStream,
    LPOVERLAPPED lpOverlapped);

PEERDIST_API DWORD WINAPI PeerDistServerCloseStreamHandle(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_STREAM_HANDLE hStream);

PEERDIST_API DWORD WINAPI PeerDistServerUnpublish(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    DWORD cbContentIdentifier,
    PBYTE pContentIdentifier);

PEERDIST_API DWORD WINAPI PeerDistServerOpenContentInformation(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    DWORD cbContentIdentifier,
    PBYTE pContentIdentifier,
    ULONGLONG ullContentOffset,
    ULONGLONG cbContentLength,
    HANDLE hCompletionPort,
    ULONG_PTR ulCompletionKey,
    PPEERDIST_CONTENTINFO_HANDLE phContentInfo);

/* Windows 8+ */
PEERDIST_API DWORD WINAPI PeerDistServerOpenContentInformationEx(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    DWORD cbContentIdentifier,
    PBYTE pContentIdentifier,
    ULONGLONG ullContentOffset,
    ULONGLONG cbContentLength,
    PEERDIST_RETRIEVAL_OPTIONS *pRetrievalOptions,
    HANDLE hCompletionPort,
    ULONG_PTR ulCompletionKey,
    PPEERDIST_CONTENTINFO_HANDLE phContentInfo);

PEERDIST_API DWORD WINAPI PeerDistServerRetrieveContentInformation(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_CONTENTINFO_HANDLE hContentInfo,
    DWORD cbMaxNumberOfBytes,
    PBYTE pBuffer,
    LPOVERLAPPED lpOverlapped);

PEERDIST_API DWORD WINAPI PeerDistServerCloseContentInformation(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_CONTENTINFO_HANDLE hContentInfo);

PEERDIST_API DWORD WINAPI PeerDistServerCancelAsyncOperation(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    DWORD cbContentIdentifier,
    PBYTE pContentIdentifier,
    LPOVERLAPPED pOverlapped);

/* -- Client (retrieval) ------------------------------------------------------ */
PEERDIST_API DWORD WINAPI PeerDistClientOpenContent(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PCPEERDIST_CONTENT_TAG pContentTag,
    HANDLE hCompletionPort,
    ULONG_PTR ulCompletionKey,
    PPEERDIST_CONTENT_HANDLE phContentHandle);

PEERDIST_API DWORD WINAPI PeerDistClientCloseContent(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_CONTENT_HANDLE hContentHandle);

PEERDIST_API DWORD WINAPI PeerDistClientAddContentInformation(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_CONTENT_HANDLE hContentHandle,
    DWORD cbNumberOfBytes,
    PBYTE pBuffer,
    LPOVERLAPPED lpOverlapped);

PEERDIST_API DWORD WINAPI PeerDistClientCompleteContentInformation(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_CONTENT_HANDLE hContentHandle,
    LPOVERLAPPED lpOverlapped);

PEERDIST_API DWORD WINAPI PeerDistClientAddData(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_CONTENT_HANDLE hContentHandle,
    DWORD cbNumberOfBytes,
    PBYTE pBuffer,
    LPOVERLAPPED lpOverlapped);

PEERDIST_API DWORD WINAPI PeerDistClientBlockRead(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_CONTENT_HANDLE hContentHandle,
    DWORD cbMaxNumberOfBytes,
    PBYTE pBuffer,
    DWORD dwTimeoutInMilliseconds,
    LPOVERLAPPED lpOverlapped);

PEERDIST_API DWORD WINAPI PeerDistClientStreamRead(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_CONTENT_HANDLE hContentHandle,
    DWORD cbMaxNumberOfBytes,
    PBYTE pBuffer,
    DWORD dwTimeoutInMilliseconds,
    LPOVERLAPPED lpOverlapped);

PEERDIST_API DWORD WINAPI PeerDistClientFlushContent(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PCPEERDIST_CONTENT_TAG pContentTag,
    HANDLE hCompletionPort,
    ULONG_PTR ulCompletionKey,
    LPOVERLAPPED lpOverlapped);

/* Windows 8+ */
PEERDIST_API DWORD WINAPI PeerDistClientGetInformationByHandle(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_CONTENT_HANDLE hContentHandle,
    PEERDIST_CLIENT_INFO_BY_HANDLE_CLASS PeerDistClientInfoClass,
    DWORD dwBufferSize,
    LPVOID lpInformation);

PEERDIST_API DWORD WINAPI PeerDistClientCancelAsyncOperation(
    PEERDIST_INSTANCE_HANDLE hPeerDist,
    PEERDIST_CONTENT_HANDLE hContentHandle,
    LPOVERLAPPED pOverlapped);

#ifdef __cplusplus
}
#endif

#endif /* PEERDIST_H_CLEANROOM */
