/*
 * Standard error held off while native TensorFlow loads: libtensorflow prints its start-up notes (absl's
 * "All log messages before absl::InitializeLog()…", oneDNN's) straight to file descriptor 2 when it is loaded,
 * before TF_CPP_MIN_LOG_LEVEL is read. Built into build/native-kernels.node beside the kernels
 * (scripts/build-native-kernels.mjs); used by runtime/backend.ts.
 */
#include <fcntl.h>
#include <node_api.h>
#include <unistd.h>

/* stderrOff() → the saved descriptor (or -1): fd 2 now writes to /dev/null */
static napi_value StderrOff(napi_env env, napi_callback_info info) {
  (void)info;
  int saved = dup(2);
  int devnull = open("/dev/null", O_WRONLY);
  if (saved >= 0 && devnull >= 0) dup2(devnull, 2);
  else if (saved >= 0) { close(saved); saved = -1; }
  if (devnull >= 0) close(devnull);
  napi_value result;
  napi_create_int32(env, saved, &result);
  return result;
}

/* stderrOn(saved): fd 2 writes where it wrote before */
static napi_value StderrOn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t saved = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc == 1) napi_get_value_int32(env, argv[0], &saved);
  if (saved >= 0) {
    dup2(saved, 2);
    close(saved);
  }
  return NULL;
}

void register_quiet_stderr(napi_env env, napi_value exports) {
  napi_value off, on;
  napi_create_function(env, "stderrOff", NAPI_AUTO_LENGTH, StderrOff, NULL, &off);
  napi_set_named_property(env, exports, "stderrOff", off);
  napi_create_function(env, "stderrOn", NAPI_AUTO_LENGTH, StderrOn, NULL, &on);
  napi_set_named_property(env, exports, "stderrOn", on);
}
