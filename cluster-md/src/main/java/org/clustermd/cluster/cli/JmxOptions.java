package org.clustermd.cluster.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * The options every JMX client verb shares (detail, status, manage): where the node's JMX is,
 * which array, and the credentials of a node whose JMX requires them (a user of its password
 * file, the password read from a file so it never shows in {@code ps}). TLS follows the JDK's
 * client conventions: the server's stub says TLS, and {@code -Djavax.net.ssl.trustStore} (in
 * {@code JAVA_TOOL_OPTIONS}) says whom to trust.
 *
 * <p>Not thread-safe: picocli fills it once per command line.
 */
final class JmxOptions {
    @Option(names = "--name", paramLabel = "ARRAY", description = "The array (default: the only one the node runs).")
    String array;

    @Option(names = "--jmx-user", paramLabel = "ROLE", description = "A role of the node's JMX password file.")
    String user;

    @Option(names = "--jmx-password-file", paramLabel = "FILE", description = "A file holding that role's password.")
    Path passwordFile;

    /** Parses HOST:PORT[,HOST:PORT...]; usage errors name the bad part. */
    static List<String[]> endpoints(CommandSpec spec, String list) {
        List<String[]> res = new ArrayList<>();
        for (String part : list.split(",")) {
            int colon = part.lastIndexOf(':');
            if (colon <= 0 || colon == part.length() - 1) {
                throw new ParameterException(spec.commandLine(), "--jmx must be HOST:PORT: '" + part + "'");
            }
            String host = part.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
            try {
                int port = Integer.parseInt(part.substring(colon + 1));
                if (port < 1 || port > 65535) throw new NumberFormatException();
            } catch (NumberFormatException e) {
                throw new ParameterException(spec.commandLine(), "--jmx port must be 1..65535: '" + part + "'");
            }
            res.add(new String[] {host, part.substring(colon + 1)});
        }
        return res;
    }

    /** Usage errors of these options, checked before any node is asked. */
    void check(CommandSpec spec) {
        if ((user == null) != (passwordFile == null)) {
            throw new ParameterException(spec.commandLine(), "--jmx-user and --jmx-password-file go together");
        }
    }

    JmxTarget connect(CommandSpec spec, String[] endpoint) throws IOException {
        check(spec);
        String password = null;
        if (passwordFile != null)
            password = Files.readString(passwordFile, StandardCharsets.UTF_8).strip();
        return JmxTarget.connect(endpoint[0], Integer.parseInt(endpoint[1]), user, password, array);
    }
}
