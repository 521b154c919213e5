// RETR and TOP send a message the same way: the file streamed in pieces,
// converted to CRLF and dot-stuffed on the way; TOP stops reading once it
// has the header and the lines asked for.
#include "commands.hpp"
#include "roost/pop3d/message_stream.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> send_message(Pop3Session& s, const Message& m, std::optional<std::uint64_t> body_lines) {
  // RETR reads large pieces; TOP usually needs only the first few KiB.
  const std::uint64_t piece = body_lines ? 16 * 1024 : 256 * 1024;
  MessageStream stream(body_lines);
  std::uint64_t offset = 0;
  bool first = true;
  for (;;) {
    storage::Result<std::string> bytes;
    auto work = [&]() { bytes = s.inbox->read_range(m.uid, offset, piece); };
    co_await s.blocking(work);
    if (!bytes) {
      if (first) {
        std::string response = bytes.error().kind == storage::ErrorKind::expunged
                                   ? std::string("-ERR Message was removed by another session\r\n")
                                   : storage_error(s, bytes.error());
        co_await s.send(response);
      } else {
        // Half a message was sent: only closing the connection tells the client.
        s.lost = true;
      }
      co_return;
    }
    std::string out;
    if (first) {
      out = "+OK " + (body_lines ? std::string("Top of message follows") : std::to_string(m.size) + " octets") +
            "\r\n";
      first = false;
    }
    offset += bytes->size();
    bool wanted = stream.add(*bytes, out);
    if (!wanted || bytes->size() < piece) {
      stream.finish(out);
      co_await s.send(out);
      co_return;
    }
    co_await s.send(out);
    if (s.lost) co_return;
  }
}

}  // namespace roost::pop3::commands
