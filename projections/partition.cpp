#include "projections/partition.hpp"

#include <openssl/evp.h>

#include <array>

namespace sluice::projections {

int part_of(std::string_view aggregate_id, int count) {
    if (count <= 1)
        return 0;
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    EVP_Digest(aggregate_id.data(), aggregate_id.size(), digest.data(), &size, EVP_md5(), nullptr);
    std::uint32_t head = (std::uint32_t{digest[0]} << 24) | (std::uint32_t{digest[1]} << 16) |
                         (std::uint32_t{digest[2]} << 8) | std::uint32_t{digest[3]};
    return static_cast<int>(head % static_cast<std::uint32_t>(count));
}

std::string part_expression(std::string_view column, int count) {
    return "sluice.event_part(" + std::string(column) + ", " + std::to_string(count) + ")";
}

std::string part_condition(std::string_view column, Part part) {
    if (part.count <= 1)
        return "TRUE";
    return part_expression(column, part.count) + " = " + std::to_string(part.index);
}

std::string part_name(const std::string& projection, Part part) {
    if (part.count <= 1)
        return projection;
    return projection + "[" + std::to_string(part.index + 1) + "/" + std::to_string(part.count) +
           "]";
}

}  // namespace sluice::projections
