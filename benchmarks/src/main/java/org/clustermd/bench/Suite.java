package org.clustermd.bench;

import java.util.List;

/**
 * One benchmark suite ({@code benchmarks/run <name>}): measures our figures and their peers
 * in the same run, alternating, and reports each figure once.
 *
 * <p>Suites are found with {@link java.util.ServiceLoader}: add the class name to
 * {@code META-INF/services/org.clustermd.bench.Suite}. A suite prints progress to stderr
 * only; stdout carries nothing but the JSON lines that {@link BenchMain} prints from the
 * returned figures.
 *
 * <p>Implementations need not be thread-safe: {@link BenchMain} runs one suite at a time.
 */
public interface Suite {

    /** The name used on the command line, e.g. {@code lock} or {@code datapath}. */
    String name();

    /**
     * Runs the suite.
     *
     * @param options command-line options after the suite name ({@code --rounds N},
     *     {@code --seconds S}, {@code --dir PATH} ...); a suite ignores the ones it does not use
     * @return the figures, in the order they should be printed
     * @throws BenchException if a peer or our side cannot be run; the message says what is missing
     */
    List<Figure> run(BenchOptions options) throws BenchException;
}
