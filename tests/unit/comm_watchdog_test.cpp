// The stalled-rank watchdog's bookkeeping (comm/watchdog.h), without MPI: who watches whom,
// when a rank counts as silent, who reports, and the message (issue 16.9).
#include <gtest/gtest.h>

#include "flotilla/comm/watchdog.h"

namespace flotilla {
namespace {

TEST(Watchdog, StarTopology) {
  EXPECT_TRUE(watched_ranks(0, 1).empty());  // one rank: nothing to watch
  EXPECT_EQ(watched_ranks(0, 4), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(watched_ranks(2, 4), (std::vector<int>{0}));
  EXPECT_EQ(watched_ranks(1, 2), (std::vector<int>{0}));
}

TEST(Watchdog, SilenceIsMeasuredFromTheLastHeartbeatNotFromThePhase) {
  HeartbeatTable t({1, 2, 3}, 100.0);
  EXPECT_TRUE(t.silent(102.9, 3.0).empty());
  // Ranks busy for a long time keep sending: never silent, however long the run.
  for (double now = 101; now <= 1000; now += 1) {
    t.heard(1, now);
    t.heard(2, now);
    t.heard(3, now);
    ASSERT_TRUE(t.silent(now + 0.5, 3.0).empty()) << now;
  }
  // Rank 2 stops at 1000: silent from 1003 on, named alone; the others still count as alive.
  for (double now = 1001; now <= 1010; now += 1) {
    t.heard(1, now);
    t.heard(3, now);
  }
  EXPECT_TRUE(t.silent(1002.9, 3.0).empty());
  EXPECT_EQ(t.silent(1003.0, 3.0), (std::vector<int>{2}));
  EXPECT_DOUBLE_EQ(t.silent_for(2, 1010), 10.0);
  EXPECT_EQ(t.silent(1010, 3.0), (std::vector<int>{2}));
  // A heartbeat late but before the deadline resets the clock; an out-of-order (older) time never moves it back.
  t.heard(2, 1011);
  t.heard(2, 1005);
  EXPECT_EQ(t.silent(1013.5, 3.0), (std::vector<int>{1, 3}));  // 1 and 3 last heard at 1010
  EXPECT_DOUBLE_EQ(t.silent_for(2, 1012), 1.0);
  // Heartbeats of a rank not watched are ignored.
  t.heard(7, 2000);
  EXPECT_DOUBLE_EQ(t.silent_for(7, 2000), 0.0);
}

TEST(Watchdog, RanksThatEndNormallyAreNoLongerWatched) {
  HeartbeatTable t({0}, 0.0);
  EXPECT_FALSE(t.empty());
  t.gone(0);  // rank 0 said goodbye (it may then sit in MPI_Finalize for a long time)
  EXPECT_TRUE(t.empty());
  EXPECT_TRUE(t.silent(1e6, 3.0).empty());
  HeartbeatTable u({1, 2}, 0.0);
  u.gone(1);
  EXPECT_EQ(u.silent(10, 3.0), (std::vector<int>{2}));
}

TEST(Watchdog, OneReporter) {
  // Rank 0 watches the others and reports at once; when rank 0 itself is silent, rank 1
  // reports at once and the others only after a grace period.
  EXPECT_TRUE(reports_at_once(0, {2}));
  EXPECT_TRUE(reports_at_once(0, {1, 3}));
  EXPECT_TRUE(reports_at_once(1, {0}));
  EXPECT_FALSE(reports_at_once(2, {0}));
  EXPECT_FALSE(reports_at_once(3, {0}));
  EXPECT_TRUE(reports_at_once(2, {0, 1}));
}

TEST(Watchdog, HeartbeatIntervalLeavesSeveralBeatsPerTimeout) {
  EXPECT_DOUBLE_EQ(heartbeat_interval(60), 1.0);
  EXPECT_DOUBLE_EQ(heartbeat_interval(3), 0.375);
  EXPECT_DOUBLE_EQ(heartbeat_interval(1), 0.125);
  EXPECT_DOUBLE_EQ(heartbeat_interval(0.1), 0.05);
  for (double t : {1.0, 3.0, 10.0, 60.0, 600.0, 604800.0}) EXPECT_LE(heartbeat_interval(t) * 8, t + 1e-12) << t;
}

TEST(Watchdog, MessageNamesRankRoleHostAndTheFix) {
  const std::vector<std::string> who = {"trainer 0 on n1", "trainer 1 on n1", "sampler 0 on n2", "loader 0 on n2"};
  const std::string m = stall_message({2}, who, 3.31, 3, 0, "Continue from the last checkpoint with: flotilla train --resume run");
  EXPECT_EQ(m,
            "flotilla train: rank 2 (sampler 0 on n2) stopped responding: no heartbeat for 3.3 s (--rank-timeout 3); "
            "stopped (SIGSTOP, Ctrl-Z, a debugger), frozen or unreachable. Ending the job (noticed by rank 0).\n"
            "Continue from the last checkpoint with: flotilla train --resume run");
  const std::string several = stall_message({1, 2, 3}, who, 61, 60, 0, "");
  EXPECT_NE(several.find("ranks 1 (trainer 1 on n1), 2 (sampler 0 on n2) and 3 (loader 0 on n2) stopped responding"),
            std::string::npos)
      << several;
  EXPECT_EQ(several.find('\n'), std::string::npos);
  EXPECT_NE(stall_message({0}, who, 60.5, 60, 1, "").find("rank 0 (trainer 0 on n1) stopped responding: no heartbeat for "
                                                          "60.5 s (--rank-timeout 60)"),
            std::string::npos);
}

}  // namespace
}  // namespace flotilla
