#include "net/rtmp_server.hpp"

#include "media/testing/h264_fixtures.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "media/aac.hpp"
#include "media/flv.hpp"
#include "proto/rtmp/test_client.hpp"

namespace meshcast::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using proto::rtmp::amf0::value;
using proto::rtmp::testing::server_view;
using proto::rtmp::testing::test_client;

const core::bytes& k_sps = media::testing::k_sps_640x360;
using media::testing::k_pps;

/// A blocking loopback TCP client with bounded waits (poll), for raw bytes.
class raw_client {
 public:
  explicit raw_client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~raw_client() { close(); }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send(core::byte_view data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const auto n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// Reads what arrives within `timeout`; returns early once something came. Sets eof().
  core::bytes read_some(std::chrono::milliseconds timeout) {
    core::bytes out;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return out;
    std::uint8_t buf[65536];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return out;
    }
    out.assign(buf, buf + n);
    return out;
  }

  /// True when the server closed the connection within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!eof_ && std::chrono::steady_clock::now() < end) read_some(50ms);
    return eof_;
  }
  [[nodiscard]] bool eof() const { return eof_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
};

/// A publisher speaking through test_client over a raw_client, reading the server's answers.
class publisher {
 public:
  explicit publisher(std::uint16_t port) : tcp_(port) {}

  bool send(core::byte_view b) { return tcp_.send(b); }

  /// Handshake .. publish in one write, then waits for the onStatus that answers publish.
  std::string publish(const std::string& name_and_query) {
    send(client_.publish_all("live", name_and_query));
    const auto end = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < end && !tcp_.eof()) {
      view_.feed(tcp_.read_some(50ms));
      for (const auto& code : view_.status_codes()) {
        if (code.rfind("NetStream.Publish.", 0) == 0) return code;
      }
    }
    return "<no answer>";
  }

  /// onMetaData, sequence headers, then `seconds` of 30 fps video (GOP 30) and 48 kHz AAC.
  void stream(double seconds) {
    value meta = value::make_ecma_array();
    meta.set("width", value::make_number(640)).set("height", value::make_number(360));
    meta.set("framerate", value::make_number(30)).set("videocodecid", value::make_number(7));
    meta.set("audiocodecid", value::make_number(10));
    core::bytes wire = client_.metadata(meta);
    core::append(wire, client_.video(0, media::make_avc_sequence_header_tag(k_sps, k_pps)));
    core::append(wire, client_.audio(0, media::make_aac_sequence_header_tag(
                                           media::aac::make_lc_audio_specific_config(48000, 2))));
    const int frames = static_cast<int>(seconds * 30);
    int audio_index = 0;
    for (int i = 0; i < frames; ++i) {
      const auto ts = static_cast<std::uint32_t>(i * 1000 / 30);
      core::bytes nal(i % 30 == 0 ? 3000 : 400, 0xab);
      nal[0] = i % 30 == 0 ? 0x65 : 0x41;
      core::append(wire, client_.video(ts, media::make_avc_nalu_tag(i % 30 == 0, 0, {nal})));
      while (audio_index * 1024 * 1000 / 48000 <= static_cast<int>(ts)) {
        const auto ats = static_cast<std::uint32_t>(audio_index * 1024 * 1000 / 48000);
        core::append(wire, client_.audio(ats, media::make_aac_raw_tag(core::bytes(200, 0x21))));
        ++audio_index;
      }
    }
    send(wire);
  }

  raw_client& tcp() { return tcp_; }
  server_view& view() { return view_; }
  test_client& client() { return client_; }

 private:
  raw_client tcp_;
  test_client client_;
  server_view view_;
};

/// An rtmp_server on 127.0.0.1:0 whose io_context runs on its own thread. Everything that
/// touches the server or the registry goes through on_io().
class rtmp_server_test : public ::testing::Test {
 protected:
  void SetUp() override { start_server({}); }

  void start_server(rtmp_server_settings settings) {
    settings.endpoint = {asio::ip::make_address("127.0.0.1"), 0};
    server_ = std::make_unique<rtmp_server>(
        io_, streams_,
        [](const std::string& name, const std::string& key) -> core::result<void> {
          if ((name == "live/test" || name == "live/other") && key == "abc") return core::ok();
          return core::error{1, "wrong stream key"};
        },
        settings);
    auto r = server_->start();
    ASSERT_TRUE(r) << r.error().message;
    port_ = server_->local_endpoint().port();
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (!thread_.joinable()) {  // start failed: nothing runs
      server_.reset();
      return;
    }
    on_io([this] {
      server_.reset();
      return 0;
    });
    guard_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  template <class F>
  auto on_io(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    asio::post(io_, [&task] { task(); });
    return fut.get();
  }

  /// Polls `pred` on the io thread until true or `timeout`.
  template <class F>
  bool eventually(F pred, std::chrono::milliseconds timeout = 5000ms) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (on_io(pred)) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  rtmp_server_stats stats() {
    return on_io([this] { return server_->stats(); });
  }
  bool is_live(const std::string& name) {
    return on_io([&] {
      const auto* s = streams_.find(name);
      return s != nullptr && s->state() == media::publisher_state::live;
    });
  }
  std::size_t chunks_of(const std::string& name) {
    return on_io([&]() -> std::size_t {
      auto* s = streams_.find(name);
      if (s == nullptr) return 0;
      const auto* r = s->find_rendition("source");
      return r == nullptr ? 0 : r->log().size();
    });
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
  media::stream_registry streams_{media::stream_settings{}};
  std::unique_ptr<rtmp_server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(rtmp_server_test, garbage_closes_that_connection_while_a_valid_publish_goes_live) {
  raw_client garbage(port_);
  ASSERT_TRUE(garbage.connected());
  publisher pub(port_);
  garbage.send(core::as_bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(garbage.closed_within(3000ms));

  ASSERT_EQ(pub.publish("test?key=abc"), "NetStream.Publish.Start");
  pub.stream(2.0);
  EXPECT_TRUE(eventually([&] {
    const auto* s = streams_.find("live/test");
    return s != nullptr && s->state() == media::publisher_state::live;
  }));
  EXPECT_TRUE(eventually([&] {
    auto* s = streams_.find("live/test");
    const auto* r = s == nullptr ? nullptr : s->find_rendition("source");
    return r != nullptr && r->log().size() > 0;
  })) << "no chunk reached the chunk log";
  const auto info = on_io([&] { return streams_.find("live/test")->source().info(); });
  EXPECT_EQ(info.width, 640);
  EXPECT_EQ(info.height, 360);
  EXPECT_TRUE(info.has_audio);

  const auto st = stats();
  EXPECT_EQ(st.connections_accepted, 2u);
  EXPECT_EQ(st.protocol_errors, 1u);
  EXPECT_EQ(st.publishes_accepted, 1u);
  EXPECT_GT(st.frames_in, 0u);

  pub.tcp().close();
  EXPECT_TRUE(eventually([&] {
    const auto* s = streams_.find("live/test");
    return s->state() == media::publisher_state::idle;
  })) << "closing the connection must end the publication";
}

TEST_F(rtmp_server_test, wrong_key_is_denied_with_a_status_and_the_connection_closes) {
  publisher pub(port_);
  EXPECT_EQ(pub.publish("test?key=nope"), "NetStream.Publish.Denied");
  EXPECT_TRUE(pub.tcp().closed_within(3000ms));
  EXPECT_EQ(stats().publishes_rejected, 1u);
  EXPECT_FALSE(is_live("live/test"));
}

TEST_F(rtmp_server_test, unknown_app_and_bad_names_are_bad_names) {
  publisher wrong_app(port_);
  wrong_app.send(wrong_app.client().publish_all("vod", "test?key=abc"));
  EXPECT_TRUE(wrong_app.tcp().closed_within(3000ms));
  publisher bad_name(port_);
  EXPECT_EQ(bad_name.publish("../etc?key=abc"), "NetStream.Publish.BadName");
  EXPECT_EQ(stats().publishes_rejected, 2u);
}

TEST_F(rtmp_server_test, second_publisher_of_a_live_stream_is_refused) {
  publisher first(port_);
  ASSERT_EQ(first.publish("test?key=abc"), "NetStream.Publish.Start");
  publisher second(port_);
  EXPECT_EQ(second.publish("test?key=abc"), "NetStream.Publish.BadName");
  publisher other(port_);
  EXPECT_EQ(other.publish("other?key=abc"), "NetStream.Publish.Start");
}

TEST_F(rtmp_server_test, unsupported_codec_closes_the_publisher_with_a_clear_reason) {
  publisher pub(port_);
  ASSERT_EQ(pub.publish("test?key=abc"), "NetStream.Publish.Start");
  pub.send(pub.client().audio(0, core::bytes{0x2f, 0xff, 0xfb, 0x90}));  // MP3
  EXPECT_TRUE(pub.tcp().closed_within(3000ms));
  EXPECT_EQ(stats().protocol_errors, 1u);
}

TEST_F(rtmp_server_test, bind_conflict_names_the_address) {
  const auto message = on_io([&] {
    rtmp_server_settings s;
    s.endpoint = {asio::ip::make_address("127.0.0.1"), port_};
    rtmp_server again(io_, streams_, nullptr, s);
    auto r = again.start();
    return r ? std::string("<started>") : r.error().message;
  });
  EXPECT_EQ(message,
            "rtmp: cannot listen on 127.0.0.1:" + std::to_string(port_) + ": Address already in use");
}

TEST_F(rtmp_server_test, metrics_name_the_counters) {
  const auto text = on_io([&] {
    std::string out;
    server_->write_metrics(out);
    return out;
  });
  EXPECT_NE(text.find("meshcast_rtmp_connections_total 0"), std::string::npos) << text;
  EXPECT_NE(text.find("meshcast_rtmp_publishes_total{result=\"rejected\"} 0"), std::string::npos);
}

class rtmp_server_short_timeouts : public rtmp_server_test {
 protected:
  void SetUp() override {
    rtmp_server_settings s;
    s.session.handshake_timeout = core::micros{300'000};
    s.session.idle_timeout = core::micros{300'000};
    start_server(s);
  }
};

TEST_F(rtmp_server_short_timeouts, silent_client_is_closed_by_the_handshake_timeout) {
  raw_client silent(port_);
  ASSERT_TRUE(silent.connected());
  EXPECT_TRUE(silent.closed_within(3000ms));
  EXPECT_EQ(stats().timeouts, 1u);
}

// The acceptance test: the stock ffmpeg publishes H.264 + AAC to rtmp://127.0.0.1:PORT/live/test.
std::string find_on_path(const std::string& exe) {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "";
  std::size_t start = 0;
  while (start <= p.size()) {
    const auto end = p.find(':', start);
    const std::string dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + exe;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return {};
}

TEST_F(rtmp_server_test, stock_ffmpeg_publishes_h264_and_aac) {
  const std::string ffmpeg = find_on_path("ffmpeg");
  if (ffmpeg.empty()) GTEST_SKIP() << "ffmpeg is not on PATH";
  const std::string url = "rtmp://127.0.0.1:" + std::to_string(port_) + "/live/test?key=abc";
  const auto log_path = std::filesystem::temp_directory_path() /
                        ("meshcast_rtmp_ffmpeg_" + std::to_string(::getpid()) + ".log");
  std::vector<std::string> args{ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "warning",
                                "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                                "-f", "lavfi", "-i", "sine=frequency=440", "-c:v", "libx264",
                                "-preset", "veryfast", "-g", "60", "-c:a", "aac", "-t", "3",
                                "-f", "flv", url};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  ASSERT_EQ(::posix_spawn(&pid, ffmpeg.c_str(), &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);

  bool saw_chunks = false;
  int status = 0;
  bool exited = false;
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < end) {
    if (!saw_chunks && chunks_of("live/test") > 0) saw_chunks = true;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  if (!exited) {
    ::kill(pid, SIGKILL);  // only the process this test started
    ::waitpid(pid, &status, 0);
  }
  std::ifstream log(log_path);
  const std::string ffmpeg_log((std::istreambuf_iterator<char>(log)), {});
  std::filesystem::remove(log_path);

  ASSERT_TRUE(exited) << "ffmpeg did not finish within 10 s:\n" << ffmpeg_log;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ffmpeg_log;
  EXPECT_TRUE(saw_chunks) << "no chunk of live/test reached the chunk log";
  const auto st = stats();
  EXPECT_EQ(st.publishes_accepted, 1u);
  EXPECT_EQ(st.protocol_errors, 0u);
  EXPECT_EQ(st.media_errors, 0u);
  EXPECT_GT(st.frames_in, 100u);
  const auto info = on_io([&] { return streams_.find("live/test")->source().info(); });
  EXPECT_EQ(info.width, 640);
  EXPECT_EQ(info.height, 360);
  EXPECT_TRUE(info.has_video);
  EXPECT_TRUE(info.has_audio);
  EXPECT_TRUE(eventually([&] {
    return streams_.find("live/test")->state() == media::publisher_state::idle;
  }));
}

}  // namespace
}  // namespace meshcast::net
