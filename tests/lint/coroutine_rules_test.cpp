// ADR 0003's GCC 12 coroutine rules, checked over the C++ sources as text (label unit, under a
// second). GCC 12.2 miscompiles some temporaries that live across a co_await (double frees), so:
//   rule 1: no capturing lambda and no braced initializer as a temporary inside a co_await
//           expression (name it first, pass std::move(name));
//   rule 2: no co_await inside a function argument list, a braced initializer or a subscript
//           (bind the awaited value to a named local first).
// The scan blanks comments, string/character literals and preprocessor lines, then tracks the
// brackets around each co_await: a `(` after a name, `)`, `]` or `>` is a call, after
// if/while/for/switch a condition, otherwise a grouping (transparent); a `{` is a block after `)`,
// `;`, `{`, `}`, `]`, else/do/try/const/noexcept/mutable/override or a trailing return type, and a
// braced initializer otherwise. A co_await's expression ends at `;` or `,` on its own level or at
// the bracket that closes it. The first tests feed it snippets that break and keep the rules, so
// the check itself can fail.
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace rocketmart::testing {
namespace {

struct Finding {
  int line = 0;
  std::string what;
};

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// Whether the quote at `i` separates digits (1'000, 0xff'ff) rather than opening a literal.
bool IsDigitSeparator(std::string_view s, std::size_t i) {
  std::size_t start = i;
  while (start > 0 && IsIdentChar(s[start - 1])) --start;
  return start < i && IsDigit(s[start]);
}

// The source with comments, the contents of string and character literals, and preprocessor lines
// replaced by spaces (newlines kept, so line numbers stay right).
std::string CodeOnly(std::string_view s) {
  std::string out(s);
  const std::size_t n = s.size();
  const auto blank = [&](std::size_t from, std::size_t to) {
    for (std::size_t k = from; k < to && k < n; ++k) {
      if (out[k] != '\n') out[k] = ' ';
    }
  };
  bool line_start = true;
  std::size_t i = 0;
  while (i < n) {
    const char c = s[i];
    if (c == '\n') {
      line_start = true;
      ++i;
      continue;
    }
    if (line_start && (c == ' ' || c == '\t')) {
      ++i;
      continue;
    }
    if (line_start && c == '#') {
      std::size_t end = i;
      while (end < n && (s[end] != '\n' || (end > 0 && s[end - 1] == '\\'))) ++end;
      blank(i, end);
      i = end;
      continue;
    }
    line_start = false;
    if (c == '/' && i + 1 < n && s[i + 1] == '/') {
      const std::size_t end = s.find('\n', i);
      blank(i, end == std::string_view::npos ? n : end);
      i = end == std::string_view::npos ? n : end;
      continue;
    }
    if (c == '/' && i + 1 < n && s[i + 1] == '*') {
      const std::size_t close = s.find("*/", i + 2);
      const std::size_t end = close == std::string_view::npos ? n : close + 2;
      blank(i, end);
      i = end;
      continue;
    }
    if (c == 'R' && i + 1 < n && s[i + 1] == '"') {  // raw string: R"delim( ... )delim"
      const std::size_t open = s.find('(', i + 2);
      if (open != std::string_view::npos) {
        std::string close = ")";
        close.append(s.substr(i + 2, open - i - 2));
        close += '"';
        const std::size_t at = s.find(close, open + 1);
        const std::size_t end = at == std::string_view::npos ? n : at + close.size();
        blank(i + 2, end - 1);  // keeps R"...": one literal token
        i = end;
        continue;
      }
    }
    if (c == '"' || (c == '\'' && !IsDigitSeparator(s, i))) {
      std::size_t k = i + 1;
      while (k < n && s[k] != c && s[k] != '\n') k += s[k] == '\\' ? 2 : 1;
      blank(i + 1, k);
      i = k + 1;
      continue;
    }
    ++i;
  }
  return out;
}

struct Token {
  std::string text;
  int line = 0;
};

std::vector<Token> Tokens(const std::string& code) {
  std::vector<Token> out;
  int line = 1;
  std::size_t i = 0;
  while (i < code.size()) {
    const char c = code[i];
    if (c == '\n') ++line;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    if (IsIdentChar(c)) {
      // A number keeps its digit separators (1'000); a name stops before a quote (L'x').
      while (end < code.size() && (IsIdentChar(code[end]) || (IsDigit(c) && code[end] == '\''))) {
        ++end;
      }
    } else if (c == '"' || c == '\'') {  // a literal, its contents blanked
      end = code.find(c, i + 1);
      end = end == std::string::npos ? code.size() : end + 1;
    } else if ((c == ':' || c == '-') && i + 1 < code.size() &&
               code[i + 1] == (c == ':' ? ':' : '>')) {
      end = i + 2;  // "::" and "->" (a '>' alone is compared by the classifiers)
    }
    out.push_back({code.substr(i, end - i), line});
    for (std::size_t k = i; k < end; ++k) {
      if (code[k] == '\n') ++line;
    }
    i = end;
  }
  return out;
}

enum class Frame { kBlock, kCondition, kGroup, kCall, kBracedInit, kSubscript };

bool IsName(const std::string& t) {
  static constexpr std::array<std::string_view, 12> kNotNames = {
      "return", "co_return", "co_await", "co_yield", "throw", "case",
      "else",   "do",        "and",      "or",       "not",   "new"};
  if (t.empty() || !IsIdentChar(t[0]) || IsDigit(t[0])) return false;
  for (const auto k : kNotNames) {
    if (t == k) return false;
  }
  return true;
}

Frame ClassifyParen(const std::string& prev) {
  for (const char* k : {"if", "while", "for", "switch", "catch", "constexpr"}) {
    if (prev == k) return Frame::kCondition;
  }
  if (IsName(prev) || prev == ")" || prev == "]" || prev == ">") return Frame::kCall;
  return Frame::kGroup;
}

// Whether the tokens before `i` end in a trailing return type ("-> awaitable<T>") or a class or
// namespace head, whose `{` opens a body rather than a braced initializer.
bool BodyFollows(const std::vector<Token>& t, std::size_t i) {
  std::size_t j = i;
  int angle = 0;
  while (j > 0) {
    const std::string& x = t[j - 1].text;
    if (x == ">") {
      ++angle;
    } else if (x == "<") {
      if (angle == 0) return false;
      --angle;
    } else if (x == "->") {
      return angle == 0;
    } else if (x == "class" || x == "struct" || x == "union" || x == "enum" || x == "namespace") {
      return true;
    } else if (angle == 0 && !(IsName(x) || x == "::" || x == "&" || x == "*")) {
      return false;
    } else if (x == ";" || x == "{" || x == "}") {
      return false;
    }
    --j;
  }
  return false;
}

Frame ClassifyBrace(const std::vector<Token>& t, std::size_t i, const std::vector<Frame>& stack) {
  const std::string prev = i > 0 ? t[i - 1].text : ";";
  const Frame top = stack.empty() ? Frame::kBlock : stack.back();
  for (const char* k : {"(", ",", "=", "return", "co_return", "co_yield", "?", "throw"}) {
    if (prev == k) return Frame::kBracedInit;
  }
  if (prev == "{") return top == Frame::kBracedInit ? Frame::kBracedInit : Frame::kBlock;
  if (prev == ":") return top == Frame::kBlock ? Frame::kBlock : Frame::kBracedInit;
  if (prev == ">" || IsName(prev)) {
    for (const char* k :
         {"else", "do", "try", "const", "noexcept", "mutable", "override", "final"}) {
      if (prev == k) return Frame::kBlock;
    }
    return BodyFollows(t, i) ? Frame::kBlock : Frame::kBracedInit;
  }
  return Frame::kBlock;  // after ) ; { } ] and the like
}

std::vector<Finding> CheckCoroutineRules(std::string_view source) {
  const std::vector<Token> t = Tokens(CodeOnly(source));
  std::vector<Finding> findings;
  std::vector<Frame> stack;
  std::vector<std::size_t> awaits;  // the stack depth of each open co_await expression
  for (std::size_t i = 0; i < t.size(); ++i) {
    const std::string& x = t[i].text;
    const std::string prev = i > 0 ? t[i - 1].text : "";
    if (x == "co_await") {
      for (auto f = stack.rbegin(); f != stack.rend(); ++f) {
        if (*f == Frame::kGroup) continue;
        if (*f == Frame::kCall) {
          findings.push_back({t[i].line, "rule 2: co_await inside a function argument list"});
        } else if (*f == Frame::kBracedInit) {
          findings.push_back({t[i].line, "rule 2: co_await inside a braced initializer"});
        } else if (*f == Frame::kSubscript) {
          findings.push_back({t[i].line, "rule 2: co_await inside a subscript or capture"});
        }
        break;
      }
      awaits.push_back(stack.size());
    } else if (x == "(") {
      stack.push_back(ClassifyParen(prev));
    } else if (x == "{") {
      const Frame f = ClassifyBrace(t, i, stack);
      if (f == Frame::kBracedInit && !awaits.empty()) {
        findings.push_back({t[i].line, "rule 1: braced initializer inside a co_await expression"});
      }
      stack.push_back(f);
    } else if (x == "[") {
      const bool subscript = IsName(prev) || prev == ")" || prev == "]" || prev == "auto" ||
                             prev == "&" || prev == "&&";  // or a structured binding
      const std::string next = i + 1 < t.size() ? t[i + 1].text : "";
      const bool attribute = next == "[" || prev == "[";
      if (!subscript && !attribute && next != "]" && !awaits.empty()) {
        findings.push_back({t[i].line, "rule 1: capturing lambda inside a co_await expression"});
      }
      stack.push_back(Frame::kSubscript);
    } else if (x == ")" || x == "}" || x == "]") {
      if (!stack.empty()) stack.pop_back();
      while (!awaits.empty() && awaits.back() > stack.size()) awaits.pop_back();
    } else if (x == ";" || x == ",") {
      while (!awaits.empty() && awaits.back() == stack.size()) awaits.pop_back();
    }
  }
  return findings;
}

std::string Describe(const std::vector<Finding>& findings) {
  std::string out;
  for (const auto& f : findings) out += "line " + std::to_string(f.line) + ": " + f.what + "\n";
  return out;
}

TEST(CoroutineRules, SnippetsThatBreakTheRulesAreFound) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"change.emplace(co_await repo.ChangeLike(a, b));", "rule 2: co_await inside a function"},
      {"Use(1,\n    co_await f());", "rule 2: co_await inside a function"},
      {"Use((co_await f()).value());", "rule 2: co_await inside a function"},
      {"auto v = std::optional<int>(co_await f());", "rule 2: co_await inside a function"},
      {"Pair p{co_await f(), 2};", "rule 2: co_await inside a braced"},
      {"return Pair{1, co_await f()};", "rule 2: co_await inside a braced"},
      {"x = v[co_await f()];", "rule 2: co_await inside a subscript"},
      {"co_await writer.Write([&](Db& db) { return 1; });", "rule 1: capturing lambda"},
      {"auto r = co_await Write(w, [this] { return 1; });", "rule 1: capturing lambda"},
      {"co_await Send(Options{.retries = 2});", "rule 1: braced initializer"},
      {"co_return co_await Send(x, {1, 2});", "rule 1: braced initializer"},
  };
  for (const auto& [code, what] : bad) {
    const std::string body = "awaitable<void> F() {\n  " + code + "\n}\n";
    const auto found = CheckCoroutineRules(body);
    ASSERT_EQ(found.size(), 1u) << code << "\n" << Describe(found);
    EXPECT_EQ(found[0].what.rfind(what, 0), 0u) << code << ": " << found[0].what;
    EXPECT_EQ(found[0].line, code.find('\n') == std::string::npos ? 2 : 3) << code;
  }
}

TEST(CoroutineRules, SnippetsThatKeepTheRulesPass) {
  const char* good = R"cpp(
#define AWAIT(x) Use(co_await x)
    namespace rocketmart::orders {
    // change.emplace(co_await f()) in a comment
    /* Use(co_await f()) */
    struct Pair {
      int a{1};
      int b = 2;
    };
    awaitable<Result<Order>> Store::Cancel(std::int64_t id) const {
      const char* text = "Use(co_await f())";
      const char* raw = R"x(Use(co_await f()) "quoted")x";
      const char quote = '"';
      constexpr int kMany = 100'000;
      auto job = [&, id](Db& db) -> Result<Order> { return Load(db, id); };
      auto r = co_await Write(writer_, std::move(job));
      if (auto again = co_await Read(id); !again.ok()) co_return again.error();
      while (co_await SweepOnce() > 0) {
      }
      for (const auto& line : co_await Lines(id)) Use(line);
      auto [ec, n] = co_await socket.async_read(buffer, as_tuple(use_awaitable));
      const auto& [a, b] = co_await Both();
      co_spawn(
          ex, [&]() -> awaitable<void> { co_await Tick(); }, detached);
      co_spawn(
          ex,
          [this]() mutable -> boost::asio::awaitable<Result<int>> {
            auto v = co_await Tick();
            Use(std::move(v), Pair{1, 2});
            co_return v;
          },
          detached);
      co_await Submit([](Db& db) { return 1; });  // a lambda that captures nothing
      Value value = co_await Fetch();
      Use(Pair{1, 2}, [&] { return value; });
      switch (co_await Kind()) {
        case 1: {
          co_await Tick();
          break;
        }
      }
      co_return co_await async::Write<Order>(writer_, std::move(job));
    }
    }  // namespace rocketmart::orders
  )cpp";
  const auto found = CheckCoroutineRules(good);
  EXPECT_TRUE(found.empty()) << Describe(found);
}

TEST(CoroutineRules, TheSourcesKeepThem) {
  const char* root = std::getenv("ROCKETMART_SOURCE_DIR");
  ASSERT_NE(root, nullptr) << "ROCKETMART_SOURCE_DIR is not set (CTest sets it)";
  std::size_t files = 0;
  std::size_t awaits = 0;
  std::string report;
  for (const char* dir : {"src", "tests", "tools", "bench", "fuzz"}) {
    const std::filesystem::path base = std::filesystem::path(root) / dir;
    if (!std::filesystem::exists(base)) continue;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(base)) {
      const auto ext = entry.path().extension();
      if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp")) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string text = ss.str();
      ++files;
      for (std::size_t at = text.find("co_await"); at != std::string::npos;
           at = text.find("co_await", at + 1)) {
        ++awaits;
      }
      for (const auto& f : CheckCoroutineRules(text)) {
        report += std::filesystem::relative(entry.path(), root).string() + ":" +
                  std::to_string(f.line) + ": " + f.what + "\n";
      }
    }
  }
  EXPECT_GT(files, 100u) << "the source tree was not found under " << root;
  EXPECT_GT(awaits, 100u) << "no coroutines scanned";
  EXPECT_EQ(report, "") << "see docs/adr/0003-concurrency-model.md";
}

}  // namespace
}  // namespace rocketmart::testing
