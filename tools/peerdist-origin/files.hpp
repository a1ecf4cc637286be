// SPDX-License-Identifier: MIT
//
// peerdist-origin: the served directory - request targets to files, without ever leaving it.
//
// Contract of resolve():
//  - The target is origin-form (`/a/b?q`) or absolute-form (`http://host/a/b`, [RFC7230] 5.3.2);
//    query and fragment are dropped, %XX is decoded once ([RFC3986] 2.1). A malformed escape, a
//    decoded NUL, a backslash or a target of another form is a bad request (400).
//  - A `..` segment, anything that is not a regular file (directory, FIFO, device, socket), and any
//    path whose real location (symlinks resolved) is outside the root -> not found (404). A symlink
//    that stays inside the root is followed.
//  - No time-of-check/time-of-use gap: after realpath() names the real file, it is opened by
//    walking the real path's components from the root's directory descriptor with O_NOFOLLOW, so a
//    symlink swapped in after the check makes the open fail instead of escaping.
//  - The file is opened O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC and fstat()ed; its FileId is
//    what the CI cache is keyed on.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace pd::origin {

/// An open file descriptor, closed when the last owner lets go.
class FileHandle {
public:
    explicit FileHandle(int fd) noexcept : fd_(fd) {}
    ~FileHandle();
    FileHandle(const FileHandle&) = delete;
    FileHandle& operator=(const FileHandle&) = delete;
    [[nodiscard]] int fd() const noexcept { return fd_; }

private:
    int fd_;
};

/// What identifies one version of a file: a change of any field means new bytes (or possibly new
/// bytes) and therefore a new CI, ETag and Last-Modified.
struct FileId {
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    friend bool operator==(const FileId&, const FileId&) = default;
};

FileId file_id(const struct stat& st) noexcept;

struct ResolvedFile {
    std::shared_ptr<FileHandle> file;
    FileId id;
    std::int64_t mtime_sec = 0;
    std::string key;  // path relative to the root, real (symlinks resolved), '/'-separated
};

enum class ResolveError { kBadRequest, kNotFound };

/// The served directory.
class Root {
public:
    /// Opens the directory; nullopt and *error when it is not a readable directory.
    static std::optional<Root> open(const std::string& path, std::string* error);
    Root(Root&&) noexcept;
    Root& operator=(Root&&) noexcept;
    ~Root();

    [[nodiscard]] const std::string& real_path() const noexcept { return real_; }

    /// Resolves a request target (see the contract above). On failure *error says which answer.
    std::optional<ResolvedFile> resolve(std::string_view target, ResolveError* error) const;

private:
    Root(std::string real, int fd) : real_(std::move(real)), fd_(fd) {}
    std::string real_;
    int fd_ = -1;
};

/// Strong ETag of a file version: "ino-size-mtime_ns" in hex ([RFC7232] 2.3).
std::string make_etag(const FileId& id);
/// IMF-fixdate ([RFC7231] 7.1.1.1) of a time in seconds since the epoch, e.g.
/// "Fri, 01 Aug 2008 01:02:03 GMT"; locale-independent.
std::string http_date(std::int64_t epoch_seconds);
/// Content-Type by file extension (a small table; application/octet-stream otherwise).
std::string_view content_type(std::string_view path);

/// True when a path is `path` itself or lies under it (component-wise; both absolute, normal).
bool path_within(const std::string& path, const std::string& base);

}  // namespace pd::origin
