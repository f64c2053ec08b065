package org.clustermd.cluster.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.clustermd.dlm.zk.DlmCredentials;
import org.clustermd.dlm.zk.ZkClientTls;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * The ZooKeeper credentials options of the verbs that connect to ZooKeeper, after ZooKeeper's
 * own conventions: the digest {@code USER:PASSWORD} read from a file (never from the command
 * line, where {@code ps} would show it), or the x509 scheme (the TLS client certificate's
 * subject), and the client's TLS settings from a ZooKeeper client properties file
 * ({@code zookeeper.ssl.*}, see {@link ZkClientTls}). Both are read and checked
 * before anything connects; a bad file is a usage error naming it.
 *
 * <p>Not thread-safe: picocli fills it once per command line.
 */
final class ZkClientOptions {
    @Option(
            names = "--zk-auth-file",
            paramLabel = "FILE",
            description = "ZooKeeper digest credentials: a file whose first line is USER:PASSWORD, the same on every "
                    + "node. Every znode of the cluster then gets an ACL for that identity only.")
    Path authFile;

    @Option(
            names = "--zk-client-config",
            paramLabel = "FILE",
            description = "TLS to ZooKeeper: a ZooKeeper client properties file (zookeeper.ssl.keyStore.location, "
                    + "zookeeper.ssl.keyStore.password, zookeeper.ssl.trustStore.location, "
                    + "zookeeper.ssl.trustStore.password, ...; zookeeper.client.secure=true is implied).")
    Path clientConfig;

    @Option(
            names = "--zk-x509",
            description = "The cluster's identity is the TLS client certificate's subject (ZooKeeper's x509 scheme; "
                    + "needs --zk-client-config with a key store, and the same subject on every node).")
    boolean x509;

    /** The credentials these options name: none, digest or x509, over TLS when a client config is given. */
    DlmCredentials credentials(CommandSpec spec) {
        if (x509 && (clientConfig == null || authFile != null))
            throw new ParameterException(
                    spec.commandLine(), "--zk-x509 needs --zk-client-config, and no --zk-auth-file");
        DlmCredentials c = authFile == null ? DlmCredentials.none() : digest(spec);
        if (clientConfig == null) return c;
        ZkClientTls tls;
        try {
            tls = ZkClientTls.load(clientConfig);
        } catch (IOException e) {
            throw new ParameterException(
                    spec.commandLine(), "--zk-client-config: cannot read " + clientConfig + ": " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--zk-client-config: " + e.getMessage());
        }
        if (!x509) return c.overTls(tls);
        try {
            return DlmCredentials.x509(tls.clientCertificateSubject()).overTls(tls);
        } catch (IOException e) {
            throw new ParameterException(spec.commandLine(), "--zk-x509: " + e.getMessage());
        }
    }

    private DlmCredentials digest(CommandSpec spec) {
        String text;
        try {
            text = Files.readString(authFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ParameterException(
                    spec.commandLine(), "--zk-auth-file: cannot read " + authFile + ": " + e.getMessage());
        }
        String line = text.lines().findFirst().orElse("").strip();
        int colon = line.indexOf(':');
        if (colon <= 0 || colon == line.length() - 1) {
            throw new ParameterException(
                    spec.commandLine(), "--zk-auth-file: " + authFile + " must hold USER:PASSWORD on its first line");
        }
        return DlmCredentials.digest(line.substring(0, colon), line.substring(colon + 1));
    }
}
