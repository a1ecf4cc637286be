// PeerFreeData and the enumeration functions; the flat-block builder behind every returned pointer.
#include "memory.h"

#include <algorithm>

namespace pd::p2pdll {

HandleTable& handles()
{
    static HandleTable table;
    return table;
}

pd::p2p::Ticks now_utc()
{
    FILETIME f;
    GetSystemTimeAsFileTime(&f);
    return from_filetime(f);
}

bool peernet_disabled()
{
    DWORD value = 0, size = sizeof value;
    LSTATUS rc = RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Policies\\Microsoft\\Peernet", L"Disabled",
                              RRF_RT_REG_DWORD, nullptr, &value, &size);
    return rc == ERROR_SUCCESS && value == 1;
}

// --- blocks ------------------------------------------------------------------------------------

// Every block starts with a 16-byte header in front of what the caller sees, so PeerFreeData can
// refuse pointers that are not ours instead of corrupting the heap (the real DLL would crash).
namespace {
constexpr std::uint64_t kMagic = 0x50324046'4c415421ULL;  // "P2P@FLAT!"-ish tag
struct alignas(16) BlockHeader {
    std::uint64_t magic;
    std::uint64_t size;
};
HANDLE heap()
{
    static HANDLE h = GetProcessHeap();
    return h;
}
} // namespace

void* flat_alloc(size_t size)
{
    auto* h = static_cast<BlockHeader*>(HeapAlloc(heap(), HEAP_ZERO_MEMORY, sizeof(BlockHeader) + size));
    if (!h)
        return nullptr;
    h->magic = kMagic;
    h->size = size;
    return h + 1;
}

void flat_free(const void* p)
{
    if (!p)
        return;
    auto* h = const_cast<BlockHeader*>(static_cast<const BlockHeader*>(p) - 1);
    // A pointer that is not one of our blocks (or one freed already) is ignored.
    if (h->magic != kMagic) {
        PD_WARN("PeerFreeData: {} is not a block returned by p2p.dll", p);
        return;
    }
    h->magic = 0;
    HeapFree(heap(), 0, h);
}

size_t FlatBuilder::reserve_raw(size_t size, size_t align)
{
    size_t off = (buf_.size() + align - 1) / align * align;
    buf_.resize(off + size, 0);
    return off;
}

size_t FlatBuilder::str(std::u16string_view s)
{
    size_t off = reserve_raw((s.size() + 1) * sizeof(char16_t), alignof(char16_t));
    if (!s.empty())
        std::memcpy(buf_.data() + off, s.data(), s.size() * sizeof(char16_t));
    return off;
}

size_t FlatBuilder::bytes(const void* data, size_t size)
{
    size_t off = reserve_raw(size, 8);
    if (size)
        std::memcpy(buf_.data() + off, data, size);
    return off;
}

void FlatBuilder::link(size_t field, size_t target)
{
    std::uint64_t v = target;
    std::memcpy(buf_.data() + field, &v, sizeof v);
    fixups_.push_back(field);
}

void* FlatBuilder::finish()
{
    auto* base = static_cast<std::uint8_t*>(flat_alloc(std::max<size_t>(buf_.size(), 1)));
    if (!base)
        return nullptr;
    std::memcpy(base, buf_.data(), buf_.size());
    for (size_t f : fixups_) {
        std::uint64_t off;
        std::memcpy(&off, base + f, sizeof off);
        std::uint8_t* p = base + off;
        std::memcpy(base + f, &p, sizeof p);
    }
    return base;
}

HRESULT return_string(std::u16string_view s, PWSTR* out)
{
    FlatBuilder b;
    b.str(s);
    void* p = b.finish();
    if (!p)
        return E_OUTOFMEMORY;
    *out = static_cast<PWSTR>(p);
    return S_OK;
}

HRESULT make_enum(std::vector<ItemWriter> items, HPEERENUM* out)
{
    auto e = std::make_shared<Enumeration>();
    e->items = std::move(items);
    std::uint64_t h = handles().insert(kEnum, e);
    if (!h)
        return E_OUTOFMEMORY;
    *out = to_handle(h);
    return S_OK;
}

} // namespace pd::p2pdll

using namespace pd::p2pdll;

extern "C" {

VOID WINAPI PeerFreeData(LPCVOID pvData)
{
    try {
        flat_free(pvData);
    } catch (...) {
    }
}

HRESULT WINAPI PeerGetItemCount(HPEERENUM hPeerEnum, ULONG* pCount)
{
    return guarded("PeerGetItemCount", [&]() -> HRESULT {
        if (!pCount)
            return E_INVALIDARG;
        auto e = handles().lookup<Enumeration>(handle_value(hPeerEnum), kEnum);
        if (!e)
            return E_INVALIDARG;
        std::lock_guard lock(e->mutex);
        // All items of the enumeration, whatever PeerGetNextItem has returned already.
        *pCount = static_cast<ULONG>(e->items.size());
        return S_OK;
    });
}

HRESULT WINAPI PeerGetNextItem(HPEERENUM hPeerEnum, ULONG* pCount, PVOID** pppvItems)
{
    return guarded("PeerGetNextItem", [&]() -> HRESULT {
        if (!pCount || !pppvItems)
            return E_INVALIDARG;
        auto e = handles().lookup<Enumeration>(handle_value(hPeerEnum), kEnum);
        if (!e)
            return E_INVALIDARG;
        std::lock_guard lock(e->mutex);
        size_t n = std::min<size_t>(*pCount, e->items.size() - e->next);
        if (n == 0) {
            // The end (or a request for 0 items): nothing to free.
            *pCount = 0;
            *pppvItems = nullptr;
            return S_OK;
        }
        // One block: the array of n pointers, then the items it points to.
        FlatBuilder b;
        size_t array = b.reserve<void*>(n);
        for (size_t i = 0; i < n; ++i) {
            size_t item = e->items[e->next + i](b);
            b.link(array + i * sizeof(void*), item);
        }
        void* block = b.finish();
        if (!block)
            return E_OUTOFMEMORY;
        e->next += n;
        *pCount = static_cast<ULONG>(n);
        *pppvItems = static_cast<PVOID*>(block);
        return S_OK;
    });
}

HRESULT WINAPI PeerEndEnumeration(HPEERENUM hPeerEnum)
{
    return guarded("PeerEndEnumeration", [&]() -> HRESULT {
        return handles().remove<Enumeration>(handle_value(hPeerEnum), kEnum) ? S_OK : E_INVALIDARG;
    });
}

} // extern "C"
