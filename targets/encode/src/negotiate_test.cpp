#include <perflab/encode/negotiate.hpp>

#include <array>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using perflab::encode::accept_encoding;
using perflab::encode::choose;
using perflab::encode::coding;
using perflab::encode::negotiate;
using perflab::encode::parse_accept;
using perflab::encode::to_string;

constexpr std::array<coding, 1> gzip_only = {coding::gzip};
constexpr std::array<coding, 2> br_then_gzip = {coding::br, coding::gzip};
constexpr std::array<coding, 2> gzip_then_br = {coding::gzip, coding::br};
constexpr std::array<coding, 3> all_three = {coding::br, coding::zstd, coding::gzip};

struct negotiation_case {
  const char* name;
  std::string field;          // one Accept-Encoding value
  std::span<const coding> offered;
  coding expected;
};

// RFC 9110 12.5.3, its examples and the corners a server gets wrong.
const std::vector<negotiation_case> cases = {
    // Plain lists and the RFC's own examples.
    {"gzip listed", "gzip", gzip_only, coding::gzip},
    {"rfc example: compress, gzip", "compress, gzip", gzip_only, coding::gzip},
    {"rfc example: empty value, identity only", "", gzip_only, coding::identity},
    {"only whitespace is an empty value", "  \t ", gzip_only, coding::identity},
    {"rfc example: *", "*", gzip_only, coding::gzip},
    {"rfc example: compress;q=0.5, gzip;q=1.0", "compress;q=0.5, gzip;q=1.0", gzip_only, coding::gzip},
    {"rfc example: gzip;q=1.0, identity; q=0.5, *;q=0", "gzip;q=1.0, identity; q=0.5, *;q=0", gzip_only,
     coding::gzip},
    {"a coding we do not offer", "deflate, compress", gzip_only, coding::identity},
    {"names are case-insensitive", "GZip", gzip_only, coding::gzip},
    {"x-gzip is gzip", "x-gzip", gzip_only, coding::gzip},
    {"X-GZIP is gzip too", "X-GZIP;q=0.5", gzip_only, coding::gzip},
    // q-values.
    {"gzip;q=0 refuses gzip", "gzip;q=0", gzip_only, coding::identity},
    {"gzip;q=0.000 refuses gzip", "gzip;q=0.000", gzip_only, coding::identity},
    {"gzip;q=0.001 accepts gzip", "gzip;q=0.001", gzip_only, coding::gzip},
    {"Q in capitals", "gzip;Q=0.5", gzip_only, coding::gzip},
    {"whitespace around the semicolon", "gzip \t; \tq=0.7", gzip_only, coding::gzip},
    {"identity weighed higher wins", "gzip;q=0.5, identity", gzip_only, coding::identity},
    {"identity weighed equal loses to the coding", "gzip, identity", gzip_only, coding::gzip},
    {"identity weighed lower loses", "identity;q=0.2, gzip;q=0.3", gzip_only, coding::gzip},
    // Wildcard.
    {"* covers gzip", "deflate, *;q=0.5", gzip_only, coding::gzip},
    {"*;q=0 with gzip listed", "gzip, *;q=0", gzip_only, coding::gzip},
    {"*;q=0 alone refuses everything: identity anyway", "*;q=0", gzip_only, coding::identity},
    {"identity;q=0 and gzip", "identity;q=0, gzip", gzip_only, coding::gzip},
    {"identity;q=0 and nothing acceptable: identity anyway", "identity;q=0, deflate", gzip_only, coding::identity},
    {"gzip;q=0 overrides *", "gzip;q=0, *", gzip_only, coding::identity},
    {"* weighs unlisted identity above gzip", "*;q=0.8, gzip;q=0.3", gzip_only, coding::identity},
    {"listed identity overrides *", "*;q=0.8, identity;q=0.1, gzip;q=0.3", gzip_only, coding::gzip},
    {"the first entry for a coding counts", "gzip;q=0, gzip", gzip_only, coding::identity},
    // Empty list elements (RFC 9110 5.6.1).
    {"empty elements are ignored", ",, gzip ,,", gzip_only, coding::gzip},
    {"leading comma", ", gzip", gzip_only, coding::gzip},
    // Several codings offered.
    {"client preference decides", "gzip;q=0.5, br", br_then_gzip, coding::br},
    {"client preference decides the other way", "gzip, br;q=0.5", br_then_gzip, coding::gzip},
    {"tie: server order (br first)", "gzip, br", br_then_gzip, coding::br},
    {"tie: server order (gzip first)", "gzip, br", gzip_then_br, coding::gzip},
    {"zstd preferred by weight", "gzip;q=0.5, br;q=0.5, zstd", all_three, coding::zstd},
    {"zstd named in capitals", "ZSTD", all_three, coding::zstd},
    {"zstd refused, br gone: gzip", "zstd;q=0, br;q=0, *", all_three, coding::gzip},
    {"tie of all three: server order (br)", "gzip, br, zstd", all_three, coding::br},
    {"zstd not offered is never chosen", "zstd", br_then_gzip, coding::identity},
    {"* with br offered first", "*", br_then_gzip, coding::br},
    {"br not offered is never chosen", "br", gzip_only, coding::identity},
    // Malformed: the whole field is ignored (identity), never a crash.
    {"q above 1", "gzip;q=1.5", gzip_only, coding::identity},
    {"q=1.001", "gzip;q=1.001", gzip_only, coding::identity},
    {"four decimals", "gzip;q=0.1234", gzip_only, coding::identity},
    {"negative q", "gzip;q=-1", gzip_only, coding::identity},
    {"q without a value", "gzip;q=", gzip_only, coding::identity},
    {"q with a letter", "gzip;q=abc", gzip_only, coding::identity},
    {"q=.5 has no leading digit", "gzip;q=.5", gzip_only, coding::identity},
    {"space before =", "gzip;q =0.5", gzip_only, coding::identity},
    {"a parameter other than q", "gzip;level=9", gzip_only, coding::identity},
    {"two weights", "gzip;q=0.5;q=0.7", gzip_only, coding::identity},
    {"a semicolon and nothing", "gzip;", gzip_only, coding::identity},
    {"a weight without a coding", ";q=0.5, gzip", gzip_only, coding::identity},
    {"a space inside a coding", "gz ip", gzip_only, coding::identity},
    {"a separator inside a coding", "gzip/deflate", gzip_only, coding::identity},
    {"a quoted string", "\"gzip\"", gzip_only, coding::identity},
    {"a control byte", std::string("gzip\x01", 5), gzip_only, coding::identity},
    {"a NUL", std::string("gz\0ip", 5), gzip_only, coding::identity},
    {"bytes above 0x7f", "gzip, \xc3\xa9t\xc3\xa9", gzip_only, coding::identity},
};

TEST(EncodeNegotiate, FollowsRfc9110Section12_5_3) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(to_string(negotiate(c.field, c.offered)), to_string(c.expected)) << "field: '" << c.field << "'";
  }
}

TEST(EncodeNegotiate, NoFieldMeansIdentity) {
  EXPECT_EQ(choose(accept_encoding{}, gzip_only), coding::identity);
}

TEST(EncodeNegotiate, NothingOfferedMeansIdentity) {
  EXPECT_EQ(negotiate("gzip, br, *", {}), coding::identity);
}

TEST(EncodeNegotiate, SeveralFieldLinesFormOneList) {
  accept_encoding a;
  parse_accept("identity;q=0.9", a);
  parse_accept("gzip;q=0.5", a);
  EXPECT_EQ(choose(a, gzip_only), coding::identity);
  accept_encoding b;
  parse_accept("deflate", b);
  parse_accept("gzip", b);
  EXPECT_EQ(choose(b, gzip_only), coding::gzip);
  // A malformed line spoils the whole field, as if it were one list.
  accept_encoding c;
  parse_accept("gzip", c);
  parse_accept("br;q=2", c);
  EXPECT_TRUE(c.malformed);
  EXPECT_EQ(choose(c, gzip_only), coding::identity);
}

TEST(EncodeNegotiate, RecordsWeightsInThousandths) {
  accept_encoding a;
  parse_accept("gzip;q=0.25, br;q=1.000, identity;q=0, *;q=0.5", a);
  EXPECT_FALSE(a.malformed);
  EXPECT_EQ(a.gzip, 250);
  EXPECT_EQ(a.br, 1000);
  EXPECT_EQ(a.identity, 0);
  EXPECT_EQ(a.star, 500);
}

// Every byte value at every position of a short field: no crash, no read past the value, and
// the answer is always one of the offered codings or identity.
TEST(EncodeNegotiate, AnyBytesGiveAnAnswer) {
  const std::string base = "gzip;q=0.5, br";
  for (std::size_t pos = 0; pos <= base.size(); ++pos) {
    for (int b = 0; b < 256; ++b) {
      std::string field = base;
      field.insert(pos, 1, static_cast<char>(b));
      const auto c = negotiate(field, br_then_gzip);
      EXPECT_TRUE(c == coding::identity || c == coding::gzip || c == coding::br);
    }
  }
}

}  // namespace
