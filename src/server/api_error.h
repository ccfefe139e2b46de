// ApiError: a request the server refuses, carried to the HTTP boundary and written in OpenAI's
// error shape {"error": {"message", "type", "param", "code"}} with its status code.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace tokenmill::server {

class ApiError : public Error {
 public:
  ApiError(int status, std::string type, const std::string& message, std::string param = "",
           std::string code = "")
      : Error(message),
        status(status),
        type(std::move(type)),
        param(std::move(param)),
        code(std::move(code)) {}

  // 400 invalid_request_error, naming the offending field when there is one.
  static ApiError invalid(const std::string& message, const std::string& param = "") {
    return ApiError(400, "invalid_request_error", message, param);
  }

  nlohmann::ordered_json to_json() const;

  int status;
  std::string type;
  std::string param;  // empty: null
  std::string code;   // empty: null
};

inline nlohmann::ordered_json ApiError::to_json() const {
  nlohmann::ordered_json err;
  err["message"] = what();
  err["type"] = type;
  err["param"] = param.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(param);
  err["code"] = code.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(code);
  return {{"error", err}};
}

}  // namespace tokenmill::server
