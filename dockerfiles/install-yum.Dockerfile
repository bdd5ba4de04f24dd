RUN yum install -y --setopt=skip_missing_names_on_install=False {{packages}} \
 && rpm -q --whatprovides {{packages}} >/dev/null \
 && yum clean all \
 && rm -rf /var/cache/yum
