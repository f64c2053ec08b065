package org.clustermd.cluster.cli;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * The {@code --help} sections that carry prose (description, verb list, parameters and
 * options), wrapped at spaces only. picocli wraps with the JDK's line BreakIterator, which also
 * breaks after a '.' or a '-' inside a word ("v1." / "2", "--examine-" / "bitmap"), so a copied
 * option name or version came out broken.
 *
 * <p>Stateless; {@link #install} configures one command tree.
 */
final class HelpLayout {
    static final int WIDTH = 80;
    /** The widest left column; a longer label puts its description on the next line. */
    private static final int MAX_LABEL = 30;

    private HelpLayout() {}

    /** Replaces the prose sections of {@code cli} and of every verb under it. */
    static void install(CommandLine cli) {
        Map<String, CommandLine.IHelpSectionRenderer> m = cli.getHelpSectionMap();
        m.put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_DESCRIPTION, help -> description(help.commandSpec()));
        m.put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_COMMAND_LIST, help -> commands(help.commandSpec()));
        m.put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_PARAMETER_LIST, help -> parameters(help.commandSpec()));
        m.put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_OPTION_LIST, help -> options(help.commandSpec()));
        cli.setHelpSectionMap(m);
        for (CommandLine sub : cli.getSubcommands().values()) install(sub);
    }

    private static String description(CommandSpec spec) {
        String text = String.join(" ", spec.usageMessage().description());
        return text.isBlank() ? "" : String.join("\n", wrap(text, WIDTH)) + "\n";
    }

    private static String commands(CommandSpec spec) {
        if (spec.subcommands().isEmpty()) return "";
        List<String[]> rows = new ArrayList<>();
        for (Map.Entry<String, CommandLine> e : spec.subcommands().entrySet()) {
            if (e.getValue().getCommandSpec().usageMessage().hidden()) continue;
            rows.add(new String[] {
                "  " + e.getKey(),
                String.join(" ", e.getValue().getCommandSpec().usageMessage().description())
            });
        }
        return table(rows, leftColumn(rows));
    }

    private static String parameters(CommandSpec spec) {
        return table(parameterRows(spec), leftColumn(spec));
    }

    private static String options(CommandSpec spec) {
        return table(optionRows(spec), leftColumn(spec));
    }

    /** Parameters and options share one left column, as picocli lays them out. */
    private static int leftColumn(CommandSpec spec) {
        List<String[]> all = new ArrayList<>(parameterRows(spec));
        all.addAll(optionRows(spec));
        return leftColumn(all);
    }

    private static List<String[]> parameterRows(CommandSpec spec) {
        List<String[]> rows = new ArrayList<>();
        for (PositionalParamSpec p : spec.positionalParameters()) {
            if (p.hidden()) continue;
            String label = p.paramLabel() + (p.arity().max() > 1 ? "..." : "");
            rows.add(new String[] {"      " + label, describe(p)});
        }
        return rows;
    }

    private static List<String[]> optionRows(CommandSpec spec) {
        List<OptionSpec> options = new ArrayList<>();
        for (OptionSpec o : spec.options()) {
            if (!o.hidden()) options.add(o);
        }
        options.sort(Comparator.comparing(
                o -> o.longestName().replaceFirst("^-+", "").toLowerCase()));
        List<String[]> rows = new ArrayList<>();
        for (OptionSpec o : options) {
            String shortName = null;
            String longName = null;
            for (String n : o.names()) {
                if (n.startsWith("--")) {
                    longName = longName == null ? n : longName;
                } else if (shortName == null) {
                    shortName = n;
                }
            }
            StringBuilder label = new StringBuilder("  ");
            label.append(shortName == null ? "    " : shortName + (longName == null ? "  " : ", "));
            if (longName != null) label.append(longName);
            if (!o.typeInfo().isBoolean() && o.arity().max() > 0)
                label.append('=').append(o.paramLabel());
            rows.add(new String[] {label.toString(), describe(o)});
        }
        return rows;
    }

    private static String describe(ArgSpec a) {
        return String.join(" ", a.description());
    }

    private static int leftColumn(List<String[]> rows) {
        int left = 0;
        for (String[] r : rows) {
            if (r[0].length() + 2 <= MAX_LABEL) left = Math.max(left, r[0].length() + 2);
        }
        return left;
    }

    /** Two columns: labels left, prose wrapped at spaces right. */
    private static String table(List<String[]> rows, int left) {
        if (rows.isEmpty()) return "";
        StringBuilder out = new StringBuilder();
        String pad = " ".repeat(left);
        for (String[] r : rows) {
            List<String> lines = wrap(r[1], WIDTH - left);
            if (r[0].length() + 2 > left) {
                out.append(r[0]).append('\n');
                for (String l : lines) out.append(pad).append(l).append('\n');
                continue;
            }
            out.append(r[0]).append(" ".repeat(left - r[0].length()));
            for (int i = 0; i < lines.size(); i++) {
                if (i > 0) out.append(pad);
                out.append(lines.get(i)).append('\n');
            }
            if (lines.isEmpty()) out.append('\n');
        }
        return out.toString();
    }

    /** {@code text} in lines of at most {@code width}, broken at spaces only (a longer word gets a line of its own). */
    static List<String> wrap(String text, int width) {
        List<String> lines = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String word : text.strip().split("\\s+")) {
            if (word.isEmpty()) continue;
            if (line.length() > 0 && line.length() + 1 + word.length() > width) {
                lines.add(line.toString());
                line.setLength(0);
            }
            if (line.length() > 0) line.append(' ');
            line.append(word);
        }
        if (line.length() > 0) lines.add(line.toString());
        return lines;
    }
}
