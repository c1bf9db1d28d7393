#include "crank/yaml/reader.h"

#include <gtest/gtest.h>

#include <string>

namespace crank {
namespace {

enum class Color { kRed, kGreen };
constexpr EnumName<Color> kColorNames[] = {{"red", Color::kRed}, {"green", Color::kGreen}};

// The ConfigError `f` throws (fails the test when it throws none).
template <typename F>
ConfigError ErrorOf(F f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ConfigError";
  return ConfigError("none");
}

TEST(YamlReader, ErrorsCarryFileLineAndKeyAsFields) {
  const YAML::Node doc = YAML::Load("a:\n  b: 1\n  n: many\n");
  const YamlReader root = YamlReader::Root(doc, "cfg", "x.yaml", YamlDialect::kKeyFirst);
  const YamlReader a = root.Child("a");
  int64_t n = 0;
  const ConfigError e = ErrorOf([&] { a.Read("n", &n); });
  EXPECT_EQ(e.file(), "x.yaml");
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.key(), "cfg.a.n");
  EXPECT_EQ(e.message(), "expected an integer, got 'many'");
  EXPECT_STREQ(e.what(), "x.yaml:3: cfg.a.n: expected an integer, got 'many'");
}

TEST(YamlReader, UnknownDuplicateAndNonNameKeysAreRefused) {
  const auto keyed = [](const std::string& text) {
    return YamlReader::Root(YAML::Load(text), "s", "f.yaml", YamlDialect::kKeyFirst);
  };
  EXPECT_STREQ(ErrorOf([&] { keyed("a: 1\nb: 2\n").CheckKeys({"a"}); }).what(),
               "f.yaml:2: s.b: unknown key (known: a)");
  EXPECT_STREQ(ErrorOf([&] { keyed("a: 1\na: 2\n").ExpectMap(); }).what(),
               "f.yaml:2: s.a: duplicate key (first at line 1)");
  EXPECT_STREQ(ErrorOf([&] { keyed("~: 1\n").CheckKeys({"a"}); }).what(),
               "f.yaml:1: s: expected a key name, found a null key");
  const auto section = [](const std::string& text) {
    return YamlReader::Root(YAML::Load(text), "s", "f.yaml", YamlDialect::kSectionFirst);
  };
  EXPECT_STREQ(ErrorOf([&] { section("a: 1\nb: 2\n").CheckKeys({"a"}); }).what(),
               "f.yaml:2: s: unknown key 'b' (expected one of: a)");
  EXPECT_STREQ(ErrorOf([&] { section("a: 1\na: 2\n").ExpectMap(); }).what(),
               "f.yaml:2: s: duplicate key 'a' (first at line 1)");
}

TEST(YamlReader, ScalarsAreCheckedForTypeRangeUtf8AndNames) {
  const YamlReader r = YamlReader::Root(YAML::Load("i: 7\nt: \"\xff\"\nc: blue\nk: green\n"), "s",
                                        "", YamlDialect::kSectionFirst);
  EXPECT_EQ(r.Child("i").AsInt(0, 10), 7);
  EXPECT_STREQ(ErrorOf([&] { r.Child("i").AsInt(0, 5); }).what(),
               "s.i: expected an integer in [0, 5], found 7");
  EXPECT_STREQ(ErrorOf([&] { r.Child("t").AsString(); }).what(),
               "s.t: expected UTF-8 text, found invalid bytes");
  EXPECT_STREQ(ErrorOf([&] { r.Child("c").AsEnum(kColorNames); }).what(),
               "s.c: expected one of red, green, found 'blue'");
  EXPECT_EQ(r.Child("k").AsEnum(kColorNames), Color::kGreen);
  Color c = Color::kRed;
  const YamlReader keyed =
      YamlReader::Root(YAML::Load("c: blue\n"), "s", "f.yaml", YamlDialect::kKeyFirst);
  EXPECT_STREQ(ErrorOf([&] { keyed.Read("c", kColorNames, &c); }).what(),
               "f.yaml:1: s.c: expected red or green, got 'blue'");
}

TEST(KeyPositions, LocatesAValidateErrorAtItsKeyOrEnclosingKey) {
  const YAML::Node doc = YAML::Load("top: 1\nlist:\n  - {name: a}\n  - name: b\n    x: 1\n");
  const YamlReader root = YamlReader::Root(doc, "cfg", "f.yaml", YamlDialect::kSectionFirst);
  root.Child("top");
  const YamlReader list = root.Child("list");
  list.Item(0).Child("name");
  list.Item(1).Child("name");
  const KeyPositions& p = root.positions();
  EXPECT_EQ(p.LineOf("cfg.top"), 1);
  EXPECT_EQ(p.LineOf("cfg.list[1].name"), 4);
  EXPECT_EQ(p.LineOf("cfg.list[1].missing"), 4);
  EXPECT_EQ(p.LineOf("cfg.list"), 2);
  EXPECT_STREQ(p.Locate(ConfigError("cfg.list[0].name", "taken"), "f.yaml").what(),
               "f.yaml:3: cfg.list[0].name: taken");
  EXPECT_STREQ(p.Locate(ConfigError("no key here"), "f.yaml").what(), "f.yaml: no key here");
}

}  // namespace
}  // namespace crank
