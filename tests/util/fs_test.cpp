// util/fs: the POSIX replacement for std::filesystem (see util/fs.h for why).
#include "util/fs.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/test_util.h"

namespace dreamer {
namespace {

TEST(FsLexical, JoinParentFilenameExtension) {
  EXPECT_EQ(fs::join("a", "b"), "a/b");
  EXPECT_EQ(fs::join("a/", "b"), "a/b");
  EXPECT_EQ(fs::join("a", "/abs"), "/abs");
  EXPECT_EQ(fs::join("", "b"), "b");
  EXPECT_EQ(fs::join("a", "b", "c.json"), "a/b/c.json");
  EXPECT_EQ(fs::parent_path("a/b/c"), "a/b");
  EXPECT_EQ(fs::parent_path("a/b/"), "a");
  EXPECT_EQ(fs::parent_path("c"), "");
  EXPECT_EQ(fs::parent_path("/c"), "/");
  EXPECT_EQ(fs::filename("a/b.json"), "b.json");
  EXPECT_EQ(fs::extension("a/b.json"), ".json");
  EXPECT_EQ(fs::extension("a/.hidden"), "");
  EXPECT_EQ(fs::extension("a.d/b"), "");
  EXPECT_EQ(fs::stem("a/b.tar.gz"), "b.tar");
  EXPECT_EQ(fs::lexically_normal("a/./b/../c//"), "a/c");
  EXPECT_EQ(fs::lexically_normal("../x/.."), "..");
  EXPECT_EQ(fs::lexically_normal("/../a"), "/a");
}

TEST(FsChanges, CreateListRemoveRename) {
  const std::string root = testing::temp_dir();
  const std::string deep = fs::join(root, "x/y/z");
  fs::create_directories(deep);
  fs::create_directories(deep);  // existing: fine
  EXPECT_TRUE(fs::is_directory(deep));
  std::ofstream(fs::join(deep, "f.txt")) << "hello";
  EXPECT_EQ(fs::file_size(fs::join(deep, "f.txt")), 5);
  EXPECT_EQ(fs::file_size(fs::join(deep, "missing")), -1);
  EXPECT_TRUE(fs::is_regular_file(fs::join(deep, "f.txt")));
  fs::create_directories(fs::join(root, "x/a"));
  EXPECT_EQ(fs::list_directory(fs::join(root, "x")), (std::vector<std::string>{"a", "y"}));
  fs::rename(fs::join(root, "x/a"), fs::join(root, "x/b"));
  EXPECT_FALSE(fs::exists(fs::join(root, "x/a")));
  EXPECT_TRUE(fs::is_directory(fs::join(root, "x/b")));
  fs::remove_all(fs::join(root, "x"));
  EXPECT_FALSE(fs::exists(fs::join(root, "x")));
  fs::remove_all(fs::join(root, "x"));  // absent: fine
  // A file where a directory is needed: the error names the path that failed and the cause.
  std::ofstream(fs::join(root, "file")) << "";
  try {
    fs::create_directories(fs::join(root, "file/sub"));
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(fs::join(root, "file") + ": File exists"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(fs::weakly_canonical(fs::join(root, "./nothing/../missing/q")),
            fs::join(fs::weakly_canonical(root), "missing/q"));
}

}  // namespace
}  // namespace dreamer
