echo "$APP_GREETING (running as uid $(id -u))"
echo "dependencies:"
for lib in /opt/app/lib/*; do echo "  $(cat "$lib")"; done
