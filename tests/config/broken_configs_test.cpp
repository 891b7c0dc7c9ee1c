// Every tests/config/broken/NAME.yaml must fail to load with exactly the diagnostics listed in
// NAME.expected, one per line as "line:column: part of the message" (0:0 for file-level ones).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config.hpp"

namespace sluice::config {
namespace {

namespace fs = std::filesystem;

const fs::path broken_dir = fs::path(SLUICE_CONFIG_TEST_DIR) / "broken";

struct Expected {
    int line = 0;
    int column = 0;
    std::string substring;
};

std::vector<Expected> read_expected(const fs::path& path) {
    std::vector<Expected> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line.front() == '#') {
            continue;
        }
        Expected e;
        std::istringstream fields(line);
        char colon = 0;
        fields >> e.line >> colon >> e.column >> colon;
        std::getline(fields >> std::ws, e.substring);
        out.push_back(e);
    }
    return out;
}

std::vector<std::string> corpus() {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(broken_dir)) {
        if (entry.path().extension() == ".yaml") {
            names.push_back(entry.path().stem().string());
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

// Variables the corpus may use; everything else counts as unset.
Environment corpus_env() {
    return {{"DATABASE_URL", "postgresql://app@localhost/orders"},
            {"SHIPPING_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}};
}

class BrokenConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(BrokenConfig, ReportsExactlyTheExpectedDiagnostics) {
    const auto yaml = broken_dir / (GetParam() + ".yaml");
    const auto expected_path = broken_dir / (GetParam() + ".expected");
    ASSERT_TRUE(fs::exists(expected_path)) << "missing " << expected_path;
    const auto expected = read_expected(expected_path);
    ASSERT_FALSE(expected.empty()) << expected_path << " lists no diagnostics";

    const auto result = load_file(yaml.string(), corpus_env());
    EXPECT_FALSE(result.config.has_value());
    std::string actual;
    for (const auto& d : result.errors) {
        actual += "  " + format(d) + "\n";
    }

    std::vector<bool> used(result.errors.size(), false);
    for (const auto& e : expected) {
        bool found = false;
        for (std::size_t i = 0; i < result.errors.size() && !found; ++i) {
            const auto& d = result.errors[i];
            if (!used[i] && d.where.line == e.line && d.where.column == e.column &&
                d.message.find(e.substring) != std::string::npos) {
                used[i] = found = true;
            }
        }
        EXPECT_TRUE(found) << "expected " << e.line << ":" << e.column << ": " << e.substring
                           << "\nactual:\n"
                           << actual;
    }
    EXPECT_EQ(result.errors.size(), expected.size()) << "actual:\n" << actual;
    for (const auto& d : result.errors) {
        EXPECT_EQ(d.where.file, yaml.string());
    }
}

INSTANTIATE_TEST_SUITE_P(Corpus, BrokenConfig, ::testing::ValuesIn(corpus()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             return info.param;
                         });

TEST(BrokenConfigCorpus, HasAtLeastTwentyFiveConfigs) {
    EXPECT_GE(corpus().size(), 25u);
}

}  // namespace
}  // namespace sluice::config
