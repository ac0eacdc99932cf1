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
// ("--db: ...") when it cannot. Connections use bounded_url(url).
std::unique_ptr<database> make_postgres(const std::string& url);

// The URL every connection is opened with: the user's, plus what they did not set of
//   hostaddr          the host resolved now, once (PQconnectStart would resolve a name
//                     synchronously, on an event loop's thread);
//   connect_timeout   5 s, for the blocking opens (the asynchronous ones have no DNS to wait for,
//                     and a refused or unanswered connect ends by the TCP rules below);
//   keepalives, keepalives_idle 5, keepalives_interval 2, keepalives_count 3, tcp_user_timeout
//                     10000: a server or path that dies mid-query ends the wait (blocking or
//                     not) in about 10 s with a lost connection, instead of never.
// Throws db::unavailable naming --db when the URL does not parse or its host does not resolve.
std::string bounded_url(const std::string& url);

}  // namespace perflab::db
