// Checks that a store can really write. A read-only file, directory or mount otherwise shows only
// when the first customer's write fails (SQLite opens a file it cannot write read-only, and reads
// keep working), so the server probes each store at start and /health probes a failing one again.
#pragma once

#include <filesystem>
#include <string>

#include "infra/storage/sqlite.hpp"

namespace rocketmart::storage {

// The probe's writes (one row of storage_write_probe, created if missing), for a caller that is
// already inside a write transaction, such as a GroupCommitWriter job. Throws SqliteError.
void WriteProbeRow(Database& db);

// One real write transaction on `db`, committed: BEGIN IMMEDIATE, WriteProbeRow, COMMIT. For a
// connection nobody else uses yet (GroupCommitWriter::Connection() before Start). Throws
// SqliteError, with the transaction rolled back.
void ProbeWrite(Database& db);

// Creates `dir` if needed, then writes and removes a small file in it. Returns why that failed,
// or "" when it worked.
std::string ProbeWritableDirectory(const std::filesystem::path& dir);

}  // namespace rocketmart::storage
