package org.clustermd.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Entry point of {@code benchmarks/run <suite> [--key value]...}: runs the named suite (or
 * {@code all}) and prints one JSON line per figure on stdout, in order, nothing else. Exit code
 * 0 when every figure ran (whether or not its goal was met; {@code "met"} says that), 1 when a
 * suite failed, 2 on a usage error.
 */
public final class BenchMain {
    private BenchMain() {}

    public static void main(String[] args) {
        List<Suite> suites = new ArrayList<>();
        ServiceLoader.load(Suite.class).forEach(suites::add);
        if (args.length == 0 || args[0].equals("--help")) {
            System.err.println("usage: benchmarks/run <suite> [--rounds N] [--seconds S] [--dir PATH]");
            System.err.println("suites: all " + suites.stream().map(Suite::name).toList());
            System.exit(args.length == 0 ? 2 : 0);
        }
        String wanted = args[0];
        BenchOptions options = BenchOptions.parse(args, 1);
        List<Suite> run = wanted.equals("all")
                ? suites
                : suites.stream().filter(s -> s.name().equals(wanted)).toList();
        if (run.isEmpty()) {
            System.err.println("unknown suite " + wanted + "; known: all "
                    + suites.stream().map(Suite::name).toList());
            System.exit(2);
        }
        int status = 0;
        for (Suite s : run) {
            try {
                for (Figure f : s.run(options)) {
                    System.out.println(f.toJson());
                    System.out.flush();
                }
            } catch (BenchException | RuntimeException e) {
                System.err.println("suite " + s.name() + " failed: " + e.getMessage());
                e.printStackTrace(System.err);
                status = 1;
            }
        }
        System.exit(status);
    }
}
