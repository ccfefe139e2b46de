#include "sampling/stop_strings.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace tokenmill {
namespace {

// Feeds pieces in order; returns everything emitted (including flush() when not stopped).
struct Run {
  std::string emitted;
  bool stopped = false;
};
Run feed_all(StopStringMatcher& matcher, const std::vector<std::string>& pieces) {
  Run run;
  for (const std::string& piece : pieces) {
    const StopFeedResult r = matcher.feed(piece);
    run.emitted += r.text;
    run.stopped = r.stopped;
  }
  if (!run.stopped) run.emitted += matcher.flush();
  return run;
}

TEST(StopStrings, NoStopsPassesEverythingStraightThrough) {
  StopStringMatcher matcher({});
  const auto r = matcher.feed("hello ");
  EXPECT_EQ(r.text, "hello ");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(matcher.feed("world").text, "world");
  EXPECT_EQ(matcher.flush(), "");
}

TEST(StopStrings, HoldsBackPossiblePrefixUntilSettled) {
  StopStringMatcher matcher({"</end>"});
  auto r = matcher.feed("abc</e");
  EXPECT_EQ(r.text, "abc");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(matcher.held_back_bytes(), 3u);
  r = matcher.feed("x");  // "</ex" cannot become "</end>": released
  EXPECT_EQ(r.text, "</ex");
  EXPECT_EQ(matcher.held_back_bytes(), 0u);
}

TEST(StopStrings, StopSpanningSeveralFeeds) {
  StopStringMatcher matcher({"STOP"});
  EXPECT_EQ(matcher.feed("one S").text, "one ");
  EXPECT_EQ(matcher.feed("T").text, "");
  const auto r = matcher.feed("OP and more");
  EXPECT_EQ(r.text, "");
  EXPECT_TRUE(r.stopped);
  EXPECT_TRUE(matcher.stopped());
  const auto after = matcher.feed("ignored");
  EXPECT_EQ(after.text, "");
  EXPECT_TRUE(after.stopped);
  EXPECT_EQ(matcher.flush(), "");
}

TEST(StopStrings, TextBeforeStopInSamePieceIsEmitted) {
  StopStringMatcher matcher({"\n\n"});
  const auto r = matcher.feed("line one\n\nline two");
  EXPECT_EQ(r.text, "line one");
  EXPECT_TRUE(r.stopped);
}

TEST(StopStrings, StopAtVeryStart) {
  StopStringMatcher matcher({"###"});
  const auto r = matcher.feed("### heading");
  EXPECT_EQ(r.text, "");
  EXPECT_TRUE(r.stopped);
}

TEST(StopStrings, OverlappingPrefixes) {
  // "aab": after "aa" a failed third "a" must keep the last two as a possible start.
  StopStringMatcher matcher({"aab"});
  const auto run = feed_all(matcher, {"a", "a", "a", "a", "b", "c"});
  EXPECT_EQ(run.emitted, "aa");
  EXPECT_TRUE(run.stopped);
}

TEST(StopStrings, EarliestOfSeveralStopsWins) {
  StopStringMatcher matcher({"bcd", "abcx", "cd"});
  const auto run = feed_all(matcher, {"zab", "cd!"});
  // "abcx" fails at 'd'; "bcd" starts at 2, "cd" at 3: cut before "bcd".
  EXPECT_EQ(run.emitted, "za");
  EXPECT_TRUE(run.stopped);
}

TEST(StopStrings, UnicodeStopStringSplitAcrossPieces) {
  // "終了" is 6 bytes of UTF-8; pieces split it between characters.
  StopStringMatcher matcher({"終了"});
  auto r = matcher.feed("こんにちは終");
  EXPECT_EQ(r.text, "こんにちは");
  r = matcher.feed("了です");
  EXPECT_EQ(r.text, "");
  EXPECT_TRUE(r.stopped);

  // A partial match that fails releases the held character whole.
  StopStringMatcher other({"終了"});
  const auto run = feed_all(other, {"終", "わり"});
  EXPECT_EQ(run.emitted, "終わり");
  EXPECT_FALSE(run.stopped);
}

TEST(StopStrings, FlushReturnsHeldBackTextAtEnd) {
  StopStringMatcher matcher({"<|im_end|>"});
  EXPECT_EQ(matcher.feed("answer <|im").text, "answer ");
  EXPECT_EQ(matcher.flush(), "<|im");
  EXPECT_FALSE(matcher.stopped());
}

TEST(StopStrings, EmptyStopIsRejected) { EXPECT_THROW(StopStringMatcher({"a", ""}), Error); }

}  // namespace
}  // namespace tokenmill
