// SPDX-License-Identifier: MIT
#include "file.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <cwchar>

namespace pd::cache {

#ifdef _WIN32
namespace {

// A positional read or write of a synchronous handle: NtReadFile / NtWriteFile with an explicit
// ByteOffset and no event, APC or completion value. ReadFile/WriteFile with an OVERLAPPED go
// through Wine's asynchronous I/O machinery (a wineserver round trip per call: about 40 us, as
// long as copying 400 KiB); the native call reads as fast as a Linux pread. Returns the bytes
// transferred, 0 on error or at the end of the file.
DWORD positional_io(HANDLE h, bool write, std::uint8_t* buffer, DWORD size, std::uint64_t offset)
{
    struct IoStatus {
        union {
            LONG status;
            void* pointer;
        };
        ULONG_PTR information;
    };
    using IoFn = LONG(WINAPI*)(HANDLE, HANDLE, void*, void*, IoStatus*, void*, ULONG, LARGE_INTEGER*, ULONG*);
    static const IoFn read_fn = reinterpret_cast<IoFn>(
        reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtReadFile")));
    static const IoFn write_fn = reinterpret_cast<IoFn>(
        reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtWriteFile")));
    IoFn fn = write ? write_fn : read_fn;
    if (!fn) { // not expected: fall back to the kernel32 calls
        OVERLAPPED ov{};
        ov.Offset = static_cast<DWORD>(offset);
        ov.OffsetHigh = static_cast<DWORD>(offset >> 32);
        DWORD done = 0;
        BOOL ok = write ? WriteFile(h, buffer, size, &done, &ov) : ReadFile(h, buffer, size, &done, &ov);
        return ok ? done : 0;
    }
    IoStatus io{};
    LARGE_INTEGER at;
    at.QuadPart = static_cast<LONGLONG>(offset);
    LONG status = fn(h, nullptr, nullptr, nullptr, &io, buffer, size, &at, nullptr);
    return status >= 0 ? static_cast<DWORD>(io.information) : 0; // STATUS_END_OF_FILE etc.: 0
}

} // namespace
#endif

std::shared_ptr<File> File::open(const std::filesystem::path& path, bool create)
{
    if (create) {
        std::error_code ec;
        std::filesystem::create_directories(path.parent_path(), ec);
    }
    std::shared_ptr<File> f(new File);
#ifdef _WIN32
    HANDLE h = CreateFileW(path.c_str(), GENERIC_READ | GENERIC_WRITE,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           create ? OPEN_ALWAYS : OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE)
        return nullptr;
    f->handle_ = h;
#else
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
    if (fd < 0)
        return nullptr;
    f->fd_ = fd;
#endif
    return f;
}

File::~File()
{
#ifdef _WIN32
    if (handle_)
        CloseHandle(handle_);
#else
    if (fd_ >= 0)
        ::close(fd_);
#endif
}

bool File::stamp(Stamp& out) const
{
#ifdef _WIN32
    // One system call for all three: NtQueryInformationFile(FileNetworkOpenInformation), resolved
    // from ntdll on first use (kernel32 has no single call that returns ChangeTime and the size).
    struct NetworkOpenInfo {
        LARGE_INTEGER creation, access, write, change, allocation, end;
        ULONG attributes;
    };
    struct IoStatus {
        union {
            LONG status;
            void* pointer;
        };
        ULONG_PTR information;
    };
    using QueryFn = LONG(WINAPI*)(HANDLE, IoStatus*, void*, ULONG, int);
    static const QueryFn query = reinterpret_cast<QueryFn>(
        reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtQueryInformationFile")));
    constexpr int kFileNetworkOpenInformation = 34;
    NetworkOpenInfo info{};
    IoStatus io{};
    if (query && query(handle_, &io, &info, sizeof info, kFileNetworkOpenInformation) == 0) {
        out.size = static_cast<std::uint64_t>(info.end.QuadPart);
        out.change = info.change.QuadPart;
        out.write = info.write.QuadPart;
        return true;
    }
    FILE_BASIC_INFO basic{};
    LARGE_INTEGER size;
    if (!GetFileInformationByHandleEx(handle_, FileBasicInfo, &basic, sizeof basic) || !GetFileSizeEx(handle_, &size))
        return false;
    out.size = static_cast<std::uint64_t>(size.QuadPart);
    out.change = basic.ChangeTime.QuadPart;
    out.write = basic.LastWriteTime.QuadPart;
#else
    struct stat st {};
    if (fstat(fd_, &st) != 0)
        return false;
    out.size = static_cast<std::uint64_t>(st.st_size);
    out.change = std::int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec;
    out.write = std::int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
#endif
    return true;
}

bool File::Stamp::settled(unsigned ms) const
{
#ifdef _WIN32
    FILETIME ft;
    GetSystemTimeAsFileTime(&ft);
    std::int64_t now = static_cast<std::int64_t>((std::uint64_t{ft.dwHighDateTime} << 32) | ft.dwLowDateTime);
    std::int64_t unit = 10000; // 100 ns per tick
#else
    struct timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    std::int64_t now = std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
    std::int64_t unit = 1000000;
#endif
    std::int64_t latest = std::max(change, write);
    // A change time in the future (clock set back) never settles: verify every read.
    return now >= latest && now - latest >= static_cast<std::int64_t>(ms) * unit;
}

bool File::linked() const
{
#ifdef _WIN32
    FILE_STANDARD_INFO info{};
    return GetFileInformationByHandleEx(handle_, FileStandardInfo, &info, sizeof info) && info.NumberOfLinks > 0 &&
           !info.DeletePending;
#else
    struct stat st {};
    return fstat(fd_, &st) == 0 && st.st_nlink > 0;
#endif
}

bool File::reserve(std::uint64_t size)
{
#ifdef _WIN32
    LARGE_INTEGER cur;
    if (!GetFileSizeEx(handle_, &cur))
        return false;
    if (static_cast<std::uint64_t>(cur.QuadPart) >= size)
        return true;
    FILE_END_OF_FILE_INFO eof{};
    eof.EndOfFile.QuadPart = static_cast<LONGLONG>(size);
    return SetFileInformationByHandle(handle_, FileEndOfFileInfo, &eof, sizeof eof);
#else
    struct stat st {};
    if (fstat(fd_, &st) != 0)
        return false;
    return static_cast<std::uint64_t>(st.st_size) >= size || ftruncate(fd_, static_cast<off_t>(size)) == 0;
#endif
}

bool File::read_at(std::uint64_t offset, std::span<std::uint8_t> out)
{
    while (!out.empty()) {
#ifdef _WIN32
        DWORD want = out.size() > (1u << 30) ? (1u << 30) : static_cast<DWORD>(out.size());
        DWORD got = positional_io(handle_, false, out.data(), want, offset);
        if (got == 0)
            return false;
#else
        ssize_t got = ::pread(fd_, out.data(), out.size(), static_cast<off_t>(offset));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false;
#endif
        out = out.subspan(static_cast<std::size_t>(got));
        offset += static_cast<std::uint64_t>(got);
    }
    return true;
}

bool File::write_at(std::uint64_t offset, std::span<const std::uint8_t> data)
{
    while (!data.empty()) {
#ifdef _WIN32
        DWORD want = data.size() > (1u << 30) ? (1u << 30) : static_cast<DWORD>(data.size());
        DWORD put = positional_io(handle_, true, const_cast<std::uint8_t*>(data.data()), want, offset);
        if (put == 0)
            return false;
#else
        ssize_t put = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset));
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return false;
#endif
        data = data.subspan(static_cast<std::size_t>(put));
        offset += static_cast<std::uint64_t>(put);
    }
    return true;
}

bool remove_file(const std::filesystem::path& path)
{
    std::error_code ec;
    std::filesystem::remove(path, ec);
    return !ec && !std::filesystem::exists(path, ec);
}

} // namespace pd::cache

namespace pd::cache {

std::unique_ptr<SharedCounter> SharedCounter::open(const std::filesystem::path& directory)
{
    std::unique_ptr<SharedCounter> c(new SharedCounter);
    constexpr std::size_t kSize = 4096;
#ifdef _WIN32
    HANDLE dir = CreateFileW(directory.c_str(), FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                             nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr);
    if (dir == INVALID_HANDLE_VALUE)
        return nullptr;
    BY_HANDLE_FILE_INFORMATION info{};
    BOOL ok = GetFileInformationByHandle(dir, &info);
    CloseHandle(dir);
    if (!ok)
        return nullptr;
    wchar_t name[80];
    swprintf(name, sizeof name / sizeof name[0], L"Local\\OpenPeerDist-cache-%08lx-%08lx%08lx",
             info.dwVolumeSerialNumber, info.nFileIndexHigh, info.nFileIndexLow);
    HANDLE m = CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE, 0, kSize, name);
    if (!m)
        return nullptr;
    c->mapping_ = m;
    void* view = MapViewOfFile(m, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, kSize);
    if (!view)
        return nullptr;
    c->value_ = static_cast<volatile std::uint64_t*>(view);
#else
    // Natively a file: whoever can write the cache folder is this user already (who can do
    // anything to this process); a POSIX shared-memory name would outlive every cache directory.
    int fd = ::open((directory / "changes").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return nullptr;
    struct stat st {};
    bool sized = fstat(fd, &st) == 0 && (st.st_size >= static_cast<off_t>(kSize) || ftruncate(fd, kSize) == 0);
    void* view = sized ? mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    ::close(fd); // the mapping keeps the file
    if (view == MAP_FAILED)
        return nullptr;
    c->value_ = static_cast<volatile std::uint64_t*>(view);
#endif
    return c;
}

SharedCounter::~SharedCounter()
{
#ifdef _WIN32
    if (value_)
        UnmapViewOfFile(const_cast<std::uint64_t*>(value_));
    if (mapping_)
        CloseHandle(mapping_);
#else
    if (value_)
        munmap(const_cast<std::uint64_t*>(value_), 4096);
#endif
}

std::uint64_t SharedCounter::load() const
{
    return __atomic_load_n(value_, __ATOMIC_ACQUIRE);
}

void SharedCounter::increment()
{
    __atomic_fetch_add(value_, 1, __ATOMIC_ACQ_REL);
}

} // namespace pd::cache
