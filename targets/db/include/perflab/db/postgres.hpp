#pragma once
// PostgreSQL through libpq (--db postgres://...). The non-blocking steps use libpq's
// asynchronous API (PQconnectStart/PQconnectPoll, PQsendQueryParams, PQflush, PQconsumeInput,
// PQisBusy) with the socket's readiness waited for by the caller (an event loop's reactor, or
// poll()); the blocking forms use PQconnectdb and PQexecParams. /db/query runs
// SELECT pg_sleep($1); /items/{id} reads the items table, which the first connection creates
// and fills (ids 1..item_count) when it is missing.
#include <memory>
#include <string>

#include <perflab/db/database.hpp>

namespace perflab::db {

// Connects once to check the server and prepare the items table; throws db::unavailable
// ("--db: ...") when it cannot.
std::unique_ptr<database> make_postgres(const std::string& url);

}  // namespace perflab::db
