// The 28 PeerDist functions must have exactly the documented signatures
// (nf-peerdist-* "Syntax" blocks). dllimport does not change a function's type.
#include <type_traits>
#include <peerdist.h>

#define SIG(fn, ret, ...) \
    static_assert(std::is_same<decltype(&fn), ret (WINAPI *)(__VA_ARGS__)>::value, #fn)

typedef PEERDIST_INSTANCE_HANDLE H;
typedef PEERDIST_CONTENT_HANDLE HC;

SIG(PeerDistStartup, DWORD, DWORD, PPEERDIST_INSTANCE_HANDLE, PDWORD);
SIG(PeerDistShutdown, DWORD, H);
SIG(PeerDistGetStatus, DWORD, H, PEERDIST_STATUS *);
SIG(PeerDistGetStatusEx, DWORD, H, PEERDIST_STATUS_INFO *);
SIG(PeerDistRegisterForStatusChangeNotification, DWORD, H, HANDLE, ULONG_PTR, LPOVERLAPPED, PEERDIST_STATUS *);
SIG(PeerDistRegisterForStatusChangeNotificationEx, DWORD, H, HANDLE, ULONG_PTR, LPOVERLAPPED, PEERDIST_STATUS_INFO *);
SIG(PeerDistUnregisterForStatusChangeNotification, DWORD, H);
SIG(PeerDistGetOverlappedResult, BOOL, LPOVERLAPPED, LPDWORD, BOOL);
SIG(PeerDistServerPublishStream, DWORD, H, DWORD, PBYTE, ULONGLONG, PCPEERDIST_PUBLICATION_OPTIONS, HANDLE, ULONG_PTR, PPEERDIST_STREAM_HANDLE);
SIG(PeerDistServerPublishAddToStream, DWORD, H, PEERDIST_STREAM_HANDLE, DWORD, PBYTE, LPOVERLAPPED);
SIG(PeerDistServerPublishCompleteStream, DWORD, H, PEERDIST_STREAM_HANDLE, LPOVERLAPPED);
SIG(PeerDistServerCloseStreamHandle, DWORD, H, PEERDIST_STREAM_HANDLE);
SIG(PeerDistServerUnpublish, DWORD, H, DWORD, PBYTE);
SIG(PeerDistServerOpenContentInformation, DWORD, H, DWORD, PBYTE, ULONGLONG, ULONGLONG, HANDLE, ULONG_PTR, PPEERDIST_CONTENTINFO_HANDLE);
SIG(PeerDistServerOpenContentInformationEx, DWORD, H, DWORD, PBYTE, ULONGLONG, ULONGLONG, PEERDIST_RETRIEVAL_OPTIONS *, HANDLE, ULONG_PTR, PPEERDIST_CONTENTINFO_HANDLE);
SIG(PeerDistServerRetrieveContentInformation, DWORD, H, PEERDIST_CONTENTINFO_HANDLE, DWORD, PBYTE, LPOVERLAPPED);
SIG(PeerDistServerCloseContentInformation, DWORD, H, PEERDIST_CONTENTINFO_HANDLE);
SIG(PeerDistServerCancelAsyncOperation, DWORD, H, DWORD, PBYTE, LPOVERLAPPED);
SIG(PeerDistClientOpenContent, DWORD, H, PCPEERDIST_CONTENT_TAG, HANDLE, ULONG_PTR, PPEERDIST_CONTENT_HANDLE);
SIG(PeerDistClientCloseContent, DWORD, H, HC);
SIG(PeerDistClientAddContentInformation, DWORD, H, HC, DWORD, PBYTE, LPOVERLAPPED);
SIG(PeerDistClientCompleteContentInformation, DWORD, H, HC, LPOVERLAPPED);
SIG(PeerDistClientAddData, DWORD, H, HC, DWORD, PBYTE, LPOVERLAPPED);
SIG(PeerDistClientBlockRead, DWORD, H, HC, DWORD, PBYTE, DWORD, LPOVERLAPPED);
SIG(PeerDistClientStreamRead, DWORD, H, HC, DWORD, PBYTE, DWORD, LPOVERLAPPED);
SIG(PeerDistClientFlushContent, DWORD, H, PCPEERDIST_CONTENT_TAG, HANDLE, ULONG_PTR, LPOVERLAPPED);
SIG(PeerDistClientGetInformationByHandle, DWORD, H, HC, PEERDIST_CLIENT_INFO_BY_HANDLE_CLASS, DWORD, LPVOID);
SIG(PeerDistClientCancelAsyncOperation, DWORD, H, HC, LPOVERLAPPED);

static_assert(std::is_same<PEERDIST_INSTANCE_HANDLE, HANDLE>::value, "handles are HANDLE");
static_assert(std::is_same<PCPEERDIST_CONTENT_TAG, const PEERDIST_CONTENT_TAG *>::value, "const tag ptr");
static_assert(std::is_same<PCPEERDIST_PUBLICATION_OPTIONS, const PEERDIST_PUBLICATION_OPTIONS *>::value, "const opts ptr");
