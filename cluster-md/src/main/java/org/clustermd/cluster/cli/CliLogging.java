package org.clustermd.cluster.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CLI's log level: WARN and above on stderr by default (logback.xml), INFO with
 * {@code --verbose}.
 *
 * <p>Thread-safe: the flag is volatile and logback's level change is atomic.
 */
final class CliLogging {
    private static volatile boolean verbose;
    /** Quiet (logback.xml) unless verbose: they log each failed connection attempt with a stack trace. */
    private static final String[] CLIENT_LOGGERS = {"org.apache.zookeeper.ClientCnxn", "org.apache.curator"};

    private CliLogging() {}

    static void setVerbose(boolean on) {
        verbose = on;
        if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof Logger root) {
            root.setLevel(on ? Level.INFO : Level.WARN);
        }
        for (String name : CLIENT_LOGGERS) {
            if (LoggerFactory.getLogger(name) instanceof Logger l) l.setLevel(on ? Level.INFO : Level.OFF);
        }
    }

    static boolean isVerbose() {
        return verbose;
    }
}
