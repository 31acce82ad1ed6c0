# The emulated-device flavour of the addon: cuda/*.cu compiled by the host C++ compiler against
# emulator/ (device.h first), so the kernels nvcc compiles are the kernels that run here.
# HAYATE_EMULATOR_ASAN=ON adds AddressSanitizer to the whole addon.
option(HAYATE_EMULATOR_ASAN "build the emulated addon under AddressSanitizer" OFF)
find_package(CUDAToolkit REQUIRED)  # headers only: types, enums and the fp16 host paths

file(GLOB HY_EMU_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/cuda/*.cu)
file(GLOB HY_EMU_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/emulator/*.cpp)
target_sources(${PROJECT_NAME} PRIVATE ${HY_EMU_CUDA_SOURCES} ${HY_EMU_SOURCES})
set_source_files_properties(${HY_EMU_CUDA_SOURCES} PROPERTIES LANGUAGE CXX)
# Device-code options, for cuda/*.cu and the self-tests. -x c++: the host compiler does not know
# .cu. -fno-strict-aliasing: device code type-puns vector loads (int4 over float[4]) as nvcc
# allows; the host optimiser must not exploit that. The alignment checks turn a misaligned vector
# access in a kernel into cudaErrorMisalignedAddress (emulator/scheduler.cpp handles the reports).
set(HY_EMU_DEVICE_OPTIONS
  "-x;c++;-include;${CMAKE_SOURCE_DIR}/emulator/device.h;-fsanitize=alignment;-fno-sanitize-recover=alignment;-Wno-unknown-pragmas;-fno-strict-aliasing")
set_source_files_properties(${HY_EMU_CUDA_SOURCES} PROPERTIES COMPILE_OPTIONS "${HY_EMU_DEVICE_OPTIONS}")

target_compile_definitions(${PROJECT_NAME} PRIVATE HAYATE_WITH_CUDA HAYATE_CUDA_EMULATOR HY_CUDA_EMULATOR)
# Fault messages name files relative to the repository (cuda/gemm.cu:120): the addon here, the
# self-tests (defined below) through the directory's options.
add_compile_options(-ffile-prefix-map=${CMAKE_SOURCE_DIR}/=)
target_compile_options(${PROJECT_NAME} PRIVATE -ffile-prefix-map=${CMAKE_SOURCE_DIR}/=)
# emulator/include first: its mma.h replaces the toolkit's device-only one.
target_include_directories(${PROJECT_NAME} BEFORE PRIVATE ${CMAKE_SOURCE_DIR}/emulator/include)
target_include_directories(${PROJECT_NAME} SYSTEM PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
find_package(Threads REQUIRED)
target_link_libraries(${PROJECT_NAME} PRIVATE Threads::Threads)

if(HAYATE_EMULATOR_ASAN)
  target_compile_options(${PROJECT_NAME} PRIVATE -fsanitize=address -fno-omit-frame-pointer -g)
  target_link_options(${PROJECT_NAME} PRIVATE -fsanitize=address)
  message(STATUS "hayate: emulated device under AddressSanitizer")
endif()
# The addon's own references (the alignment-report handlers above all) bind to its own definitions.
target_link_options(${PROJECT_NAME} PRIVATE -Wl,-Bsymbolic-functions)

# The emulator's self-tests (emulator/selftest): planted bugs that must fail, correct kernels
# that must pass. Built beside the emulated addon; scripts/test-emu.sh runs it.
add_executable(hayate_emulator_selftest ${CMAKE_SOURCE_DIR}/emulator/selftest/selftest.cu ${HY_EMU_SOURCES})
set_source_files_properties(${CMAKE_SOURCE_DIR}/emulator/selftest/selftest.cu PROPERTIES LANGUAGE CXX COMPILE_OPTIONS
  "${HY_EMU_DEVICE_OPTIONS}")
set_target_properties(hayate_emulator_selftest PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
target_compile_definitions(hayate_emulator_selftest PRIVATE HY_CUDA_EMULATOR)
target_include_directories(hayate_emulator_selftest BEFORE PRIVATE ${CMAKE_SOURCE_DIR}/emulator/include)
target_include_directories(hayate_emulator_selftest SYSTEM PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
target_compile_options(hayate_emulator_selftest PRIVATE -Wall -Wextra -Werror -O2)
target_link_libraries(hayate_emulator_selftest PRIVATE Threads::Threads)
if(HAYATE_EMULATOR_ASAN)
  target_compile_options(hayate_emulator_selftest PRIVATE -fsanitize=address -fno-omit-frame-pointer -g)
  target_link_options(hayate_emulator_selftest PRIVATE -fsanitize=address)
endif()
