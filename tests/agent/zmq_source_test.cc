// The ZeroMQ source with a real PUSH producer on loopback (a free port).
#include "fleettwin/agent/zmq_source.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>
#include <zmq.hpp>

namespace fleettwin::agent {
namespace {

using namespace std::chrono_literals;

std::vector<RawSample> Samples(double start, int n) {
  std::vector<RawSample> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({start + i, {{"p", 1.0 * i}, {"label", std::string("ok")}, {"flag", true}}});
  }
  return out;
}

TEST(TelemetryBatchTest, RoundTripsEveryFieldType) {
  std::vector<RawSample> in = Samples(10, 3);
  in[1].fields.emplace_back("missing", std::monostate{});
  absl::StatusOr<DecodedBatch> out = DecodeTelemetryBatch(AsBytes(EncodeTelemetryBatch("a-1", in)));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->asset, "a-1");
  ASSERT_EQ(out->samples.size(), 3u);
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out->samples[i].sample.time, in[i].time);
    EXPECT_EQ(out->samples[i].sample.fields, in[i].fields);
  }
  EXPECT_TRUE(out->samples[1].raw.empty());  // Described by the twin only if rejected.
}

TEST(TelemetryBatchTest, GarbageIsAnErrorNeverACrash) {
  EXPECT_FALSE(DecodeTelemetryBatch(AsBytes("abc")).ok());
  std::string good = EncodeTelemetryBatch("a-1", Samples(0, 4));
  std::mt19937_64 rng(2);
  int decoded = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string bad = good;
    for (int f = 0; f < 3; ++f) bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    if (DecodeTelemetryBatch(AsBytes(bad)).ok()) ++decoded;
  }
  EXPECT_LT(decoded, 5000);  // Some flips land in values and still decode; many do not.
}

TEST(ZmqSourceTest, ReceivesCountsAndRefusesWhatIsNotItsOwn) {
  TelemetryQueue queue(1000);
  ZmqSourceOptions options;
  options.endpoint = "tcp://127.0.0.1:*";
  options.asset = "a-1";
  absl::StatusOr<std::unique_ptr<ZmqSource>> source = ZmqSource::Start(options, queue);
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_EQ((*source)->endpoint().rfind("tcp://127.0.0.1:", 0), 0u);

  zmq::context_t context;
  zmq::socket_t push(context, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 1000);
  push.connect((*source)->endpoint());
  for (int b = 0; b < 10; ++b) {
    const std::string batch = EncodeTelemetryBatch("a-1", Samples(b * 10, 10));
    push.send(zmq::buffer(batch), zmq::send_flags::none);
  }
  push.send(zmq::str_buffer("not a capnp message"), zmq::send_flags::none);
  const std::string other = EncodeTelemetryBatch("a-2", Samples(0, 5));
  push.send(zmq::buffer(other), zmq::send_flags::none);
  const std::string last = EncodeTelemetryBatch("a-1", Samples(1000, 1));
  push.send(zmq::buffer(last), zmq::send_flags::none);

  size_t received = 0;
  for (int tries = 0; received < 101 && tries < 100; ++tries) {
    received += queue.PopBatch(1000, 50ms).size();
  }
  EXPECT_EQ(received, 101u);
  for (int tries = 0; (*source)->stats().messages() < 13 && tries < 100; ++tries) {
    std::this_thread::sleep_for(10ms);  // Counters are updated by the source's own thread.
  }
  EXPECT_EQ((*source)->stats().messages(), 13u);
  EXPECT_EQ((*source)->stats().malformed(), 1u);
  EXPECT_EQ((*source)->stats().foreign(), 1u);
  EXPECT_EQ((*source)->stats().samples(), 101u);
  EXPECT_EQ((*source)->stats().dropped(), 0u);
  (*source)->Stop();
}

TEST(ZmqSourceTest, AFullQueueDropsOnlyAfterTheTimeoutAndCountsIt) {
  TelemetryQueue queue(5);
  ZmqSourceOptions options;
  options.endpoint = "tcp://127.0.0.1:*";
  options.asset = "a-1";
  options.push_timeout = 20ms;
  auto source = ZmqSource::Start(options, queue);
  ASSERT_TRUE(source.ok());
  zmq::context_t context;
  zmq::socket_t push(context, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 1000);
  push.connect((*source)->endpoint());
  const std::string batch = EncodeTelemetryBatch("a-1", Samples(0, 8));
  push.send(zmq::buffer(batch), zmq::send_flags::none);
  // Every sample is either queued or dropped once its wait is over.
  for (int tries = 0; queue.depth() + (*source)->stats().dropped() < 8 && tries < 200; ++tries) {
    std::this_thread::sleep_for(10ms);
  }
  // Nobody drains: 5 fit, 3 waited 20 ms each and were dropped, and counted.
  EXPECT_EQ((*source)->stats().samples(), 8u);
  EXPECT_EQ((*source)->stats().dropped(), 3u);
  EXPECT_EQ(queue.dropped(), 3u);
  EXPECT_EQ(queue.depth(), 5u);
  EXPECT_EQ(ZmqSource::Start({(*source)->endpoint(), "a-1"}, queue).status().code(),
            absl::StatusCode::kUnavailable);  // Address in use.
  EXPECT_EQ(ZmqSource::Start({"bogus://x", "a-1"}, queue).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fleettwin::agent
