RUN yum install -y {{packages}} \
 && yum clean all \
 && rm -rf /var/cache/yum
