// COMPRESS=DEFLATE (RFC 4978): the tagged OK goes out uncompressed, and
// everything after it, both ways, is deflated (core/deflate.hpp keeps idle
// sessions cheap).
#include "commands.hpp"
#include "roost/core/connection.hpp"
#include "roost/core/log.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> compress(ImapSession& s, const Request& r) {
  const auto& c = std::get<Compress>(r.command);
  if (c.mechanism != "DEFLATE") co_return bad("Unknown compression mechanism " + c.mechanism);
  Connection& conn = *s.net.connection;
  // §3: a second COMPRESS is BAD.
  if (conn.compression_active()) co_return bad("[CLIENTBUG] DEFLATE is already active");
  s.tagged(r, "OK", "DEFLATE active");
  if (!co_await conn.flush(s.config().limits.write_timeout)) {
    s.lost = true;
    co_return Reply{.sent = true};
  }
  // §3: the client sends nothing until it has the answer; what it sent
  // anyway was not compressed and cannot be read as the stream.
  if (std::size_t dropped = conn.discard_buffered_input(); dropped > 0)
    log::warning(s.net.log_context(), "compress_pipelined", {{"bytes", dropped}});
  conn.start_compression();
  co_return Reply{.sent = true};
}

}  // namespace roost::imap::commands
