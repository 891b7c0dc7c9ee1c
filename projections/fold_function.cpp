#include "projections/fold_function.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "infra/pg/literal.hpp"
#include "infra/sql/sql_template.hpp"

namespace sluice::projections {
namespace {

std::string md5_hex(std::string_view text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_md5(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

// A dollar-quote tag that no expression contains.
std::string body_tag(const config::Snapshot& s) {
    auto used = [&](const std::string& tag) {
        return s.initial.find(tag) != std::string::npos ||
               std::any_of(s.apply.begin(), s.apply.end(), [&](const config::Handler& h) {
                   return h.sql.find(tag) != std::string::npos;
               });
    };
    std::string tag = "$sluice_fold$";
    for (int n = 0; used(tag); ++n)
        tag = "$sluice_fold_" + std::to_string(n) + "$";
    return tag;
}

// CASE over the event type assigning each apply expression's value; other types keep the state.
std::string apply_cases(const config::Snapshot& s) {
    std::string cases = "    CASE sluice_ev.event_type\n";
    for (const config::Handler& h : s.apply) {
        cases += "      WHEN " + pg::quote_literal(h.event_type) +
                 " THEN\n        sluice_state := (" + embed_expression(h.sql) +
                 "\n        )::jsonb;\n";
    }
    return cases + "      ELSE NULL;\n    END CASE;\n";
}

const char* event_columns =
    "e.id, e.transaction_id, e.aggregate_id, e.aggregate_type, e.version, e.event_type, "
    "e.payload, e.metadata, e.\"timestamp\"";

}  // namespace

std::string embed_expression(std::string_view expression) {
    return sql::substitute_params(expression, [](const sql::ParamRef& ref) -> std::string {
        if (ref.name == "state")
            return "sluice_state";
        if (!sql::is_event_param(ref.name))
            throw std::invalid_argument("unknown parameter :" + ref.name);
        return "sluice_ev.\"" + ref.name + "\"";
    });
}

engine::TypeSet applied_types(const config::Snapshot& s) {
    engine::TypeSet types;
    for (const auto& h : s.apply)
        types.insert(h.event_type);
    return types;
}

std::string fold_fingerprint(const config::Snapshot& s, const std::string& quoted_events_table,
                             const engine::Upcast& upcast) {
    // Lengths before each part keep the encoding unambiguous.
    std::string text;
    auto add = [&](std::string_view part) {
        text += std::to_string(part.size()) + ":" + std::string(part) + ";";
    };
    add(quoted_events_table);
    add(s.aggregate_type);
    add(s.initial);
    for (const auto& h : s.apply) {
        add(h.event_type);
        add(h.sql);
    }
    // Without upcasters nothing is added: fingerprints stored before upcasters existed stay.
    if (const auto upcasters = upcast.definition_for(applied_types(s)); !upcasters.empty())
        add(upcasters);
    return md5_hex(text);
}

std::string fold_function_name(const std::string& aggregate_type) {
    return "fold_" + aggregate_type;
}

FoldFunction fold_function(const config::Snapshot& s, const std::string& quoted_events_table,
                           const engine::Upcast& upcast) {
    FoldFunction f;
    f.fingerprint = fold_fingerprint(s, quoted_events_table, upcast);
    const std::string tag = body_tag(s);
    const std::string fold = "sluice." + pg::quote_identifier(fold_function_name(s.aggregate_type));
    const std::string type = pg::quote_literal(s.aggregate_type);
    const std::string fingerprint = pg::quote_literal(f.fingerprint);
    // STABLE: reads only, so a caller's query may use it like a table function. The OUT
    // columns are assigned at the end only: inside, every name of ours starts with sluice_, so
    // the expressions may use any column names of their own.
    f.install_sql =
        "CREATE OR REPLACE FUNCTION " + fold +
        "(p_aggregate_id uuid, p_as_of timestamptz DEFAULT NULL, p_up_to bigint DEFAULT NULL,\n"
        "  OUT version bigint, OUT state jsonb) LANGUAGE plpgsql STABLE AS " +
        tag +
        "\n#variable_conflict use_column\n"
        "DECLARE\n"
        "  sluice_ev record;\n" +
        upcast.plpgsql_variables() +
        "  sluice_state jsonb;\n"
        "  sluice_version bigint;\n"
        "  sluice_up_to bigint := p_up_to;\n"
        "BEGIN\n"
        "  IF p_as_of IS NOT NULL THEN\n"
        "    SELECT max(e.version) INTO sluice_up_to FROM " +
        quoted_events_table +
        " e\n"
        "     WHERE e.aggregate_id = p_aggregate_id AND e.aggregate_type = " +
        type +
        "\n"
        "       AND e.\"timestamp\" <= p_as_of AND (p_up_to IS NULL OR e.version <= p_up_to);\n"
        "    IF sluice_up_to IS NULL THEN\n"
        "      RETURN;\n"
        "    END IF;\n"
        "  END IF;\n"
        "  SELECT s.version, s.state INTO sluice_version, sluice_state\n"
        "    FROM sluice.snapshots s\n"
        "   WHERE s.aggregate_id = p_aggregate_id AND s.fingerprint = " +
        fingerprint +
        "\n"
        "     AND (sluice_up_to IS NULL OR s.version <= sluice_up_to)\n"
        "   ORDER BY s.version DESC LIMIT 1;\n"
        "  IF NOT FOUND THEN\n"
        "    sluice_version := 0;\n"
        "    sluice_state := (" +
        s.initial +
        "\n    )::jsonb;\n"
        "  END IF;\n"
        "  FOR sluice_ev IN\n"
        "    SELECT " +
        event_columns + "\n      FROM " + quoted_events_table +
        " e\n"
        "     WHERE e.aggregate_id = p_aggregate_id AND e.aggregate_type = " +
        type +
        "\n"
        "       AND e.version > sluice_version\n"
        "       AND (sluice_up_to IS NULL OR e.version <= sluice_up_to)\n"
        "     ORDER BY e.version\n"
        "  LOOP\n"
        "    sluice_version := sluice_ev.version;\n" +
        upcast.plpgsql_step("sluice_ev", applied_types(s), "    ") + apply_cases(s) +
        "  END LOOP;\n"
        "  IF sluice_version > 0 THEN\n"
        "    version := sluice_version;\n"
        "    state := sluice_state;\n"
        "  END IF;\n"
        "END\n" +
        tag + ";\n";

    // Each event given is a version to snapshot at. Several of one aggregate in one batch come
    // in version order, so each fold starts from the snapshot the previous one just stored.
    // The upsert replaces a row of an older fingerprint at the same version (a rebuild).
    // Persistent, named by the fingerprint: a session-only (pg_temp) function is gone when a
    // transaction pooler runs the next statement on another server session.
    const std::string take = "sluice.\"snapshot_" + f.fingerprint.substr(0, 16) + "\"";
    f.take_sql = "CREATE OR REPLACE FUNCTION " + take +
                 "(sluice_ids bigint[]) RETURNS integer LANGUAGE plpgsql AS $sluice_take$\n"
                 "DECLARE\n"
                 "  sluice_ev record;\n"
                 "  sluice_fold record;\n"
                 "  sluice_taken integer := 0;\n"
                 "BEGIN\n"
                 "  FOR sluice_ev IN\n"
                 "    SELECT e.aggregate_id, e.version\n"
                 "      FROM unnest(sluice_ids) WITH ORDINALITY AS sluice_u(id, ord)\n"
                 "      JOIN " +
                 quoted_events_table +
                 " e ON e.id = sluice_u.id\n"
                 "     ORDER BY sluice_u.ord\n"
                 "  LOOP\n"
                 "    SELECT * INTO sluice_fold FROM " +
                 fold +
                 "(sluice_ev.aggregate_id, NULL, sluice_ev.version);\n"
                 "    INSERT INTO sluice.snapshots AS s\n"
                 "        (aggregate_id, aggregate_type, version, state, fingerprint)\n"
                 "      VALUES (sluice_ev.aggregate_id, " +
                 type + ", sluice_fold.version, sluice_fold.state, " + fingerprint +
                 ")\n"
                 "      ON CONFLICT (aggregate_id, version) DO UPDATE\n"
                 "        SET aggregate_type = EXCLUDED.aggregate_type, state = EXCLUDED.state,\n"
                 "            fingerprint = EXCLUDED.fingerprint, taken_at = now();\n"
                 "    DELETE FROM sluice.snapshots s\n"
                 "     WHERE s.aggregate_id = sluice_ev.aggregate_id\n"
                 "       AND (s.fingerprint <> " +
                 fingerprint +
                 "\n"
                 "            OR s.version <= (SELECT k.version FROM sluice.snapshots k\n"
                 "                              WHERE k.aggregate_id = sluice_ev.aggregate_id\n"
                 "                                AND k.fingerprint = " +
                 fingerprint +
                 "\n"
                 "                              ORDER BY k.version DESC OFFSET " +
                 std::to_string(s.keep) +
                 " LIMIT 1));\n"
                 "    sluice_taken := sluice_taken + 1;\n"
                 "  END LOOP;\n"
                 "  RETURN sluice_taken;\n"
                 "END\n"
                 "$sluice_take$;\n";
    f.call_sql = "SELECT " + take + "($1::bigint[])";
    return f;
}

}  // namespace sluice::projections
