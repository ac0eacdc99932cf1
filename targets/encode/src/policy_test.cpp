#include <perflab/encode/policy.hpp>

#include <gtest/gtest.h>

namespace {

using perflab::encode::coding;
using perflab::encode::policy;

TEST(EncodePolicy, OffIsTheDefaultAndOffersNothing) {
  policy p;
  EXPECT_FALSE(p.enabled());
  EXPECT_TRUE(p.offered().empty());
  p.gzip_level = 6;
  ASSERT_EQ(p.offered().size(), 1u);
  EXPECT_EQ(p.offered()[0], coding::gzip);
  p.br_level = 5;
  ASSERT_EQ(p.offered().size(), 2u);
  EXPECT_EQ(p.offered()[0], coding::br);  // br first: on a tie the smaller coding
  EXPECT_EQ(p.offered()[1], coding::gzip);
  p.gzip_level = 0;
  ASSERT_EQ(p.offered().size(), 1u);
  EXPECT_EQ(p.offered()[0], coding::br);
  EXPECT_TRUE(p.enabled());
  p.zstd_level = 3;
  p.gzip_level = 6;
  ASSERT_EQ(p.offered().size(), 3u);  // br, zstd, gzip
  EXPECT_EQ(p.offered()[1], coding::zstd);
  EXPECT_EQ(p.level(coding::zstd), 3);
  EXPECT_EQ(p.level(coding::identity), 0);
  p.br_level = 0;
  p.gzip_level = 0;
  ASSERT_EQ(p.offered().size(), 1u);
  EXPECT_EQ(p.offered()[0], coding::zstd);
  EXPECT_TRUE(p.enabled());
}

TEST(EncodePolicy, MatchesMediaTypesWithoutParametersOrCase) {
  policy p;
  EXPECT_TRUE(p.encodes_type("text/plain"));
  EXPECT_TRUE(p.encodes_type("text/plain; version=0.0.4; charset=utf-8"));
  EXPECT_TRUE(p.encodes_type("Application/JSON"));
  EXPECT_FALSE(p.encodes_type("application/octet-stream"));
  EXPECT_FALSE(p.encodes_type("text/html"));
  EXPECT_FALSE(p.encodes_type("text/plainer"));
  EXPECT_FALSE(p.encodes_type(""));
}

TEST(EncodePolicy, WildcardsCoverATypeFamilyOrEverything) {
  policy p;
  p.types = {"text/*"};
  EXPECT_TRUE(p.encodes_type("text/html"));
  EXPECT_TRUE(p.encodes_type("TEXT/csv;charset=utf-8"));
  EXPECT_FALSE(p.encodes_type("text/"));
  EXPECT_FALSE(p.encodes_type("application/json"));
  p.types = {"*"};
  EXPECT_TRUE(p.encodes_type("application/octet-stream"));
  p.types = {};
  EXPECT_FALSE(p.encodes_type("text/plain"));
}

}  // namespace
