// The persistent database of one peer group for one identity: one SQLite file per
// (identity, group), shared by every process of the user that opens the group ("all apps of the same
// user + identity opening the same group share one database", fact sheet §2.1).
//
// Concurrency: the file is in WAL mode with a busy timeout, every write is one IMMEDIATE
// transaction, and data_version() changes whenever anybody (this object or another connection /
// process) commits, so a process can notice another's changes and re-read. A GroupDb object is
// internally locked and may be used from several threads.
//
// Records keep every Record field (PEER_RECORD). Lists are ordered by creation time, then id.
// Metadata is a small key -> bytes map for the group layer (properties, peer-time delta, ...); the
// key "group_peer_name" (UTF-8 bytes) names the group in export files (see export_file).
//
// Every function returns an Hr and never throws. Common errors: hr::out_of_memory,
// hr::database_accessdenied (the file cannot be written), hr::invalid_database (SQLite reports a
// corrupt or foreign file), hr::fail (other SQLite errors, logged).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pd/p2p/record_wire.hpp"
#include "pd/p2p/status.hpp"
#include "pd/p2p/types.hpp"

namespace pd::p2p {

// Metadata key holding the group peer name (UTF-8) written into export files.
inline constexpr std::string_view kMetaGroupPeerName = "group_peer_name";

class GroupDb {
public:
    ~GroupDb();
    GroupDb(const GroupDb&) = delete;
    GroupDb& operator=(const GroupDb&) = delete;

    // Creates a new database file. hr::already_exists if the file exists (an empty or foreign file
    // included); hr::database_accessdenied if it cannot be created.
    static Hr create(const std::string& path_utf8, std::unique_ptr<GroupDb>& out);
    // Opens an existing database. hr::database_not_present if there is no file,
    // hr::invalid_database if the file is not a group database of this format version.
    static Hr open(const std::string& path_utf8, std::unique_ptr<GroupDb>& out);
    // Deletes the database file and its -wal / -shm companions. hr::database_not_present if
    // none existed; hr::database_accessdenied if a file could not be removed. Close every GroupDb
    // of the file first (Windows cannot delete open files).
    static Hr destroy(const std::string& path_utf8);

    // Metadata. get_meta: hr::not_found if the key is absent.
    Hr put_meta(std::string_view key, ByteSpan value);
    Hr get_meta(std::string_view key, Bytes& value);

    // Adds a record. hr::already_exists if the id is present (tombstones included),
    // hr::invalid_record if check_record() fails.
    Hr insert_record(const Record& r);
    // Overwrites the stored record with the same id. hr::record_not_found if absent.
    Hr replace_record(const Record& r);
    // hr::record_not_found if absent (a tombstone is returned with its Deleted flag).
    Hr get_record(const Guid& id, Record& out);
    // All records, optionally of one type, tombstones (Deleted flag) only if requested.
    Hr list_records(const Guid* type_or_null, bool include_tombstones, std::vector<Record>& out);
    // Removes every record with expires <= now (tombstones included, [MS-PPGRH] 1.3.5) and
    // returns the removed records.
    Hr purge_expired(Ticks now, std::vector<Record>& purged);
    // The flood/import path: stores `r` if its id is unknown or it beats the stored record per
    // compare_records ([MS-PPGRH] 3.1.7.32); changed tells whether the database changed.
    Hr merge_record(const Record& r, bool& changed);

    // Changes whenever any connection to this file commits (this object's writes included).
    std::uint64_t data_version();

    // Writes every record (tombstones included) to `path` in the export format below, replacing
    // the file. Format (all integers big-endian):
    //   magic "PDP2PGDB" (8 bytes), format version u32 = 1,
    //   group peer name: u32 length in UTF-16 units + units (big-endian, no NUL),
    //   record count u32, then per record: u32 local flags (PEER_RECORD dwFlags, so AUTOREFRESH
    //   survives), u32 byte length, the record in the [MS-PPGRH] 2.2.1.9 layout (record_wire.hpp)
    //   with the group peer name as Graph ID.
    Hr export_file(const std::string& path_utf8);
    // Reads an export file and merges every record (merge_record rule) in one transaction: either
    // all records are merged or none. `changed` receives the records that were stored.
    // hr::invalid_group if the file names another group than this database's group_peer_name,
    // hr::invalid_database if the file is malformed (bounds-checked: truncation, bad magic/version,
    // counts or lengths beyond the file, invalid records, trailing bytes, > 1 GiB),
    // hr::file_not_found if it does not exist.
    // `validate` (optional) sees every record of the file after parsing and before anything is
    // merged; a failure aborts the import with that code and changes nothing.
    Hr import_file(const std::string& path_utf8, std::vector<Record>& changed,
                   const std::function<Hr(const std::vector<Record>&)>& validate = {});

    const std::string& path() const;

private:
    struct Impl;
    explicit GroupDb(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace pd::p2p
