package org.clustermd.dlm.zk;

import java.nio.charset.StandardCharsets;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/**
 * The cluster's identity on ZooKeeper. With credentials, every znode the lock manager creates
 * gets an ACL that grants all permissions to that identity and nothing to anyone else (ZooKeeper
 * ACLs are per znode and not inherited, so each create carries it); without, znodes are open,
 * which is only acceptable on the embedded server bound to 127.0.0.1.
 *
 * <p>Immutable and thread-safe.
 */
public sealed interface DlmCredentials {

    /** The ACL for every znode created with these credentials. */
    List<ACL> acl();

    /** The auth scheme to add to the session, or null when the identity comes from TLS. */
    String authScheme();

    /** The auth bytes for {@link #authScheme()}. */
    byte[] authBytes();

    /** No credentials: open ACLs. */
    static DlmCredentials none() {
        return None.INSTANCE;
    }

    /** ZooKeeper's digest scheme: user and password, shared by every node of the cluster. */
    static DlmCredentials digest(String user, String password) {
        return new Digest(user, password);
    }

    /**
     * ZooKeeper's x509 scheme: the session is authenticated by its TLS client certificate (configure
     * TLS on the client with {@link ZkLockManager.Builder#tls}); ACLs name the certificate's subject.
     *
     * @param subjectDn the client certificate's subject as ZooKeeper reports it, e.g.
     *     {@code CN=clustermd,O=example}
     */
    static DlmCredentials x509(String subjectDn) {
        return new X509(subjectDn);
    }

    /** Open ACLs. */
    final class None implements DlmCredentials {
        private static final None INSTANCE = new None();

        private None() {}

        @Override
        public List<ACL> acl() {
            return ZooDefs.Ids.OPEN_ACL_UNSAFE;
        }

        @Override
        public String authScheme() {
            return null;
        }

        @Override
        public byte[] authBytes() {
            return null;
        }
    }

    /** Digest credentials. */
    record Digest(String user, String password) implements DlmCredentials {
        public Digest {
            Objects.requireNonNull(user, "user");
            Objects.requireNonNull(password, "password");
            if (user.isEmpty() || user.contains(":")) {
                throw new IllegalArgumentException("digest user must be non-empty and contain no ':'");
            }
        }

        @Override
        public List<ACL> acl() {
            try {
                String id = DigestAuthenticationProvider.generateDigest(user + ":" + password);
                // a mutable-semantics list: ZooKeeper's ACL check calls contains(null), which List.of refuses
                return Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id("digest", id)));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA1 is not available", e);
            }
        }

        @Override
        public String authScheme() {
            return "digest";
        }

        @Override
        public byte[] authBytes() {
            return (user + ":" + password).getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public String toString() {
            return "digest " + user + ":***";
        }
    }

    /** x509 credentials. */
    record X509(String subjectDn) implements DlmCredentials {
        public X509 {
            Objects.requireNonNull(subjectDn, "subjectDn");
        }

        @Override
        public List<ACL> acl() {
            return Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id("x509", subjectDn)));
        }

        @Override
        public String authScheme() {
            return null;
        }

        @Override
        public byte[] authBytes() {
            return null;
        }
    }
}
