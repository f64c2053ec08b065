package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.EnumSet;
import org.junit.jupiter.api.Test;

class MembershipStateTest {
    @Test
    void onlyTheDocumentedStepsAreAllowedAndLeftIsFinal() {
        assertThat(allowedFrom(MembershipState.JOINING))
                .containsExactlyInAnyOrder(
                        MembershipState.ACTIVE,
                        MembershipState.RECOVERING,
                        MembershipState.LEAVING,
                        MembershipState.LEFT);
        assertThat(allowedFrom(MembershipState.ACTIVE))
                .containsExactlyInAnyOrder(MembershipState.RECOVERING, MembershipState.LEAVING, MembershipState.LEFT);
        assertThat(allowedFrom(MembershipState.RECOVERING))
                .containsExactlyInAnyOrder(MembershipState.ACTIVE, MembershipState.LEAVING, MembershipState.LEFT);
        assertThat(allowedFrom(MembershipState.LEAVING)).containsExactly(MembershipState.LEFT);
        assertThat(allowedFrom(MembershipState.LEFT)).isEmpty();
    }

    private static EnumSet<MembershipState> allowedFrom(MembershipState from) {
        EnumSet<MembershipState> to = EnumSet.noneOf(MembershipState.class);
        for (MembershipState s : MembershipState.values()) if (from.canBecome(s)) to.add(s);
        return to;
    }
}
