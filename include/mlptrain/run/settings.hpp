// Every setting of a training run in one table: its key (the --config key and, after "--",
// the flag), the RunConfig field it fills, its group, help text and documented default, and
// how it converts to and from text. The defaults live here and nowhere else: RunConfig's
// constructor applies them, and the command line's help text is generated from them.
#pragma once

#include <string>
#include <vector>

#include "mlptrain/run/config.hpp"

namespace mlptrain {

struct Setting {
    const char* key;            // "batch-size"
    const char* field;          // "batch_size": the RunConfig member, as library errors name it
    const char* group;          // "Optimization"
    const char* help;           // what it does
    const char* default_value;  // text form of the default (nullptr: the field's zero value)
    const char* default_note;   // how the help text states the default (nullptr: "default <value>")
    bool is_switch;             // a flag without a value ("--nesterov"); text "true"/"false"
    bool defines_result;        // saved in checkpoints, kept by a resumed run
    // Converts the text and stores it; throws ConfigError naming `field` (the setting's).
    void (*set)(RunConfig&, const std::string& text, const std::string& field);
    std::string (*get)(const RunConfig&);              // "" when unset (config_lines omits it)
};

// The table, in the order of config_lines and of the help text.
const std::vector<Setting>& settings();
// The setting with this key, or with this field; nullptr if none.
const Setting* find_setting(const std::string& key);
const Setting* find_setting_by_field(const std::string& field);
// "help (default 16)" as the command line shows it.
std::string help_text(const Setting& setting);

}  // namespace mlptrain
