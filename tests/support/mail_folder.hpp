// The mail rocketmart's file transport wrote (mail.transport = file: `<data_dir>/mail/*.eml`), read
// the way a test may while the mail worker is still writing: a mail is written as `<id>.eml.tmp`
// and renamed to `<id>.eml` when complete, so only .eml files are read, and a directory listing
// taken during a rename may miss a file. A test therefore waits on one read and uses what that same
// read returned (never a second read's element it assumes is there).
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace rocketmart::testing {

// Every complete mail in `folder` whose headers hold `To: <to>` (every mail when `to` is empty),
// oldest first (by the time its file was written).
inline std::vector<std::string> MailsIn(const std::filesystem::path& folder,
                                        const std::string& to = "") {
  std::vector<std::pair<std::filesystem::file_time_type, std::string>> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    if (entry.path().extension() != ".eml") continue;
    std::error_code time_ec;
    const auto written = entry.last_write_time(time_ec);
    if (time_ec) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    if (!in) continue;
    std::stringstream text;
    text << in.rdbuf();
    if (!to.empty() && text.str().find("\r\nTo: " + to + "\r\n") == std::string::npos) continue;
    found.emplace_back(written, text.str());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> mails;
  mails.reserve(found.size());
  for (auto& [written, text] : found) mails.push_back(std::move(text));
  return mails;
}

}  // namespace rocketmart::testing
