#include "document.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

#include <fmt/format.h>

#include "plot.hpp"

namespace perflab::analysis::detail {

void document::heading(int level, std::string t) {
  block b;
  b.k = block::kind::heading;
  b.level = level;
  b.text = std::move(t);
  blocks.push_back(std::move(b));
}
void document::para(std::string t) {
  block b;
  b.k = block::kind::paragraph;
  b.text = std::move(t);
  blocks.push_back(std::move(b));
}
void document::alert(std::string t) {
  block b;
  b.k = block::kind::alert;
  b.text = std::move(t);
  blocks.push_back(std::move(b));
}
void document::bullets(std::vector<std::string> items) {
  block b;
  b.k = block::kind::bullets;
  b.items = std::move(items);
  blocks.push_back(std::move(b));
}
void document::table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows) {
  block b;
  b.k = block::kind::table;
  b.header = std::move(header);
  b.rows = std::move(rows);
  blocks.push_back(std::move(b));
}
void document::plot(std::string title, std::string svg, std::string file, std::string caption) {
  block b;
  b.k = block::kind::plot;
  b.text = std::move(title);
  b.svg = std::move(svg);
  b.svg_file = std::move(file);
  b.caption = std::move(caption);
  blocks.push_back(std::move(b));
}

namespace {

// A column is right-aligned when every non-empty cell is a number (maybe with a unit or in bold).
bool looks_numeric(std::string_view c) {
  while (c.size() >= 2 && c.substr(0, 2) == "**") c.remove_prefix(2);
  if (c.empty() || c == "-") return true;
  std::size_t i = (c[0] == '-' || c[0] == '+') ? 1 : 0;
  return i < c.size() && std::isdigit(static_cast<unsigned char>(c[i]));
}

std::vector<bool> numeric_columns(const std::vector<std::string>& header,
                                  const std::vector<std::vector<std::string>>& rows) {
  std::vector<bool> num(header.size(), true);
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size() && i < num.size(); ++i) num[i] = num[i] && looks_numeric(r[i]);
  }
  if (!num.empty()) num[0] = false;  // the row label
  return num;
}

// Markdown's `code` and **bold** in our own texts, rendered for HTML (after escaping).
std::string html_inline(const std::string& s) {
  std::string e = html_escape(s);
  std::string out;
  bool code = false, bold = false;
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (e[i] == '`') {
      out += code ? "</code>" : "<code>";
      code = !code;
    } else if (!code && e[i] == '*' && i + 1 < e.size() && e[i + 1] == '*') {
      out += bold ? "</strong>" : "<strong>";
      bold = !bold;
      ++i;
    } else {
      out += e[i];
    }
  }
  if (code) out += "</code>";
  if (bold) out += "</strong>";
  return out;
}

}  // namespace

std::string md_escape_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::string out = "|";
  for (const auto& h : header) out += " " + md_escape_cell(h) + " |";
  out += "\n|";
  auto num = numeric_columns(header, rows);
  for (std::size_t i = 0; i < header.size(); ++i) out += num[i] ? "---:|" : "---|";
  out += "\n";
  for (const auto& r : rows) {
    out += "|";
    for (const auto& c : r) out += " " + md_escape_cell(c) + " |";
    out += "\n";
  }
  return out;
}

std::string render_markdown(const document& d) {
  std::string out;
  for (const auto& b : d.blocks) {
    switch (b.k) {
      case block::kind::heading:
        out += std::string(static_cast<std::size_t>(b.level), '#') + " " + b.text + "\n\n";
        break;
      case block::kind::paragraph:
        out += b.text + "\n\n";
        break;
      case block::kind::alert:
        out += "> **WARNING:** " + b.text + "\n\n";
        break;
      case block::kind::bullets:
        for (const auto& i : b.items) out += "- " + i + "\n";
        out += "\n";
        break;
      case block::kind::table:
        out += markdown_table(b.header, b.rows) + "\n";
        break;
      case block::kind::plot:
        out += "**" + b.text + "**\n\n";
        if (!b.svg_file.empty()) out += "![" + b.text + "](" + b.svg_file + ")\n\n";
        if (!b.caption.empty()) out += "*" + b.caption + "*\n\n";
        break;
    }
  }
  return out;
}

std::string render_html(const document& d, const std::string& title) {
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<title>" + html_escape(title) + "</title>\n";
  out += R"(<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { border-bottom: 2px solid #0072B2; padding-bottom: .2em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #f0f4f8; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td.text { text-align: left; }
.alert { background: #fff0e6; border-left: 6px solid #D55E00; padding: .6em 1em; margin: .6em 0; font-weight: 600; }
figure { margin: 1em 0 2em; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: .9em; }
code { background: #f4f4f4; padding: 0 .2em; }
</style>
</head>
<body>
)";
  int plot_id = 0;
  for (const auto& b : d.blocks) {
    switch (b.k) {
      case block::kind::heading: {
        int l = std::clamp(b.level, 1, 6);
        out += fmt::format("<h{0}>{1}</h{0}>\n", l, html_inline(b.text));
        break;
      }
      case block::kind::paragraph:
        out += "<p>" + html_inline(b.text) + "</p>\n";
        break;
      case block::kind::alert:
        out += "<div class=\"alert\">WARNING: " + html_inline(b.text) + "</div>\n";
        break;
      case block::kind::bullets:
        out += "<ul>\n";
        for (const auto& i : b.items) out += "<li>" + html_inline(i) + "</li>\n";
        out += "</ul>\n";
        break;
      case block::kind::table: {
        out += "<table>\n<thead><tr>";
        for (const auto& h : b.header) out += "<th>" + html_escape(h) + "</th>";
        out += "</tr></thead>\n<tbody>\n";
        auto num = numeric_columns(b.header, b.rows);
        for (const auto& r : b.rows) {
          out += "<tr>";
          for (std::size_t i = 0; i < r.size(); ++i) {
            out += (i < num.size() && num[i] ? "<td>" : "<td class=\"text\">") + html_inline(r[i]) + "</td>";
          }
          out += "</tr>\n";
        }
        out += "</tbody>\n</table>\n";
        break;
      }
      case block::kind::plot:
        out += "<figure>\n";
        out += inline_svg(b.svg, fmt::format("p{}_", plot_id++));
        out += "\n<figcaption><strong>" + html_escape(b.text) + "</strong>";
        if (!b.caption.empty()) out += " " + html_inline(b.caption);
        out += "</figcaption>\n</figure>\n";
        break;
    }
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace perflab::analysis::detail
