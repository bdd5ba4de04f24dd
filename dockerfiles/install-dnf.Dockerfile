RUN dnf install -y --setopt=install_weak_deps=False {{packages}} \
 && dnf clean all \
 && rm -rf /var/cache/dnf
